// Bundles the command line (src/cli/main.ts) and the benchmark (src/cli/bench.ts) into plain
// JavaScript that runs with a bare `node`, anywhere: dist-bench/cli.mjs and dist-bench/bench.mjs,
// with the Dawn addon of the npm `webgpu` package beside them (dist/linux-x64/dawn.node, where the
// package's loader looks for it relative to the bundle). No node_modules: WGSL sources are inlined
// (the `?raw` imports Vite and src/cli/raw-hooks.mjs serve), and of @huggingface/transformers only
// the tokenizers run, so its image (sharp) and ONNX runtime imports are left out.
//   node scripts/bundle.mjs [OUT_DIR]      (npm run bench:bundle)
// Then, on a machine with Node 20+ and a Vulkan driver: `node bench.mjs [section]`, `node cli.mjs info --model DIR`.

import { build } from 'esbuild';
import { copyFile, mkdir, readFile, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = resolve(process.argv[2] ?? join(root, 'dist-bench'));

/** `import text from './x.wgsl?raw'` as a string, as Vite gives it. */
const rawText = {
  name: 'raw-text',
  setup(b) {
    b.onResolve({ filter: /\?raw$/ }, (args) => ({ path: resolve(args.resolveDir, args.path.slice(0, -4)), namespace: 'raw' }));
    b.onLoad({ filter: /.*/, namespace: 'raw' }, async (args) => ({ contents: await readFile(args.path, 'utf8'), loader: 'text' }));
  },
};

/** transformers.js without its model runtimes: tokenizers need neither sharp nor onnxruntime-node. */
const tokenizersOnly = {
  name: 'tokenizers-only',
  setup(b) {
    b.onResolve({ filter: /^sharp$/ }, () => ({ path: 'sharp', namespace: 'absent' }));
    // Truthy, so transformers.js sets up its image loader (never called) instead of refusing to load.
    const sharp = "export default function sharp() { throw new Error('image processing is not in this bundle'); }";
    b.onLoad({ filter: /.*/, namespace: 'absent' }, () => ({ contents: sharp, loader: 'js' }));
    b.onLoad({ filter: /transformers\.node\.mjs$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      const call = 'requireFromHere("onnxruntime-node")';
      if (!source.includes(call)) throw new Error(`${args.path}: expected ${call}; update scripts/bundle.mjs for this transformers.js`);
      return { contents: source.replace(call, '{}'), loader: 'js' };
    });
  },
};

await rm(out, { recursive: true, force: true });
await build({
  entryPoints: { cli: join(root, 'src/cli/main.ts'), bench: join(root, 'src/cli/bench.ts') },
  outdir: out,
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // Bundled CommonJS dependencies call require(); give the ES module bundle one.
  banner: { js: "import { createRequire as __bundleRequire } from 'node:module'; const require = __bundleRequire(import.meta.url);" },
  plugins: [rawText, tokenizersOnly],
  logLevel: 'warning',
});
const addon = join('dist', `${process.platform}-${process.arch}`, 'dawn.node');
await mkdir(join(out, dirname(addon)), { recursive: true });
await copyFile(join(root, 'node_modules/webgpu', addon), join(out, addon));
let bytes = 0;
for (const file of ['cli.mjs', 'bench.mjs', addon]) bytes += (await stat(join(out, file))).size;
console.log(`bundled ${out}: cli.mjs, bench.mjs, ${addon} (${(bytes / 2 ** 20).toFixed(1)} MiB)`);
