/**
 * What dockerode brings and Outpost never runs, left out of every esbuild bundle (the worker's,
 * scripts/build-worker.mjs, and the desktop app's main process, scripts/build-main.mjs): each package
 * is answered by a stand-in that says so when touched.
 */
const SSH2 = `class Client {
  constructor() {
    throw new Error('Outpost does not reach Docker over ssh:// (DOCKER_HOST): its sessions\\' folders are bind-mounted from this machine, so the engine must be this machine\\'s (unix:// or tcp://)');
  }
}
module.exports = { Client };`;

const BUILDKIT = `module.exports = new Proxy({}, {
  get(_, name) {
    throw new Error('Outpost leaves out BuildKit sessions and progress decoding (dockerode ' + String(name) + ')');
  },
});`;

/** Packages Outpost never runs, each answered by a stand-in that says so when touched. */
const LEFT_OUT = { ssh2: SSH2, '@grpc/grpc-js': BUILDKIT, '@grpc/proto-loader': BUILDKIT, protobufjs: BUILDKIT };

export const leaveOut = {
  name: 'leave-out',
  setup(b) {
    const filter = new RegExp(`^(${Object.keys(LEFT_OUT).map((n) => n.replace(/[/.]/g, '\\$&')).join('|')})$`);
    b.onResolve({ filter }, (args) => ({ path: args.path, namespace: 'left-out' }));
    b.onLoad({ filter: /.*/, namespace: 'left-out' }, (args) => ({ contents: LEFT_OUT[args.path], loader: 'js' }));
  },
};

