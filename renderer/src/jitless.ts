import { z } from 'zod';

// zod 4 probes `new Function('')` to decide whether to compile its parsers; the window's CSP
// refuses eval, so every load logged two violations. Jitless parses without compiling. This
// module is main.tsx's first import, so it runs before shared/contract.ts builds a schema.
z.config({ jitless: true });
