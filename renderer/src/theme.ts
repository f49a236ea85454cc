import { useEffect, useState } from 'react';

const query = '(prefers-color-scheme: dark)';

/** Whether the dark theme is on now; follows the system's switch while the window is open. */
export function useDarkTheme(): boolean {
  const [dark, setDark] = useState(() => matchMedia(query).matches);
  useEffect(() => {
    const media = matchMedia(query);
    const onChange = () => setDark(media.matches);
    media.addEventListener('change', onChange);
    return () => media.removeEventListener('change', onChange);
  }, []);
  return dark;
}
