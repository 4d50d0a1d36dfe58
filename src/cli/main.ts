// The command line: the same engine and model code as the app, on Dawn in Node.
//   npm run cli -- info   --model DIR
//   npm run cli -- logits --model DIR --ids IDS.json --out OUT.safetensors [--pos MODE] [--beta B]
//   npm run cli -- ppl    --model DIR --text FILE --lengths L1,L2,... [--tokens N] [--pos MODE]
//                         [--beta-c C] [--train-ctx C_train] [--json]
//   npm run cli -- grads  --model DIR --ids IDS.json --out OUT.safetensors [--pos MODE]
//   npm run cli -- train  --out DIR (--init random --config CONFIG.json | --from DIR) --pos MODE
//                         --steps N --ctx C --batch B --lr PEAK [--warmup W] [--seed S] [--resume] [--qk-norm]
//   npm run cli -- fit-beta --model DIR --text FILE --lengths L1,L2,... [--grid C1,C2,...]
//   npm run cli -- eval   --model DIR --text FILE --lengths L1,L2,... [--tokens N] [--train-ctx C]
//                         [--beta-c C] [--modes rope,pi,ntk,yarn,dynamic,crop,none] [--none-label NAME] [--out EVAL.json]
//                         [--retrieval lookup|mqar --retrieval-lengths L1,... [--trials N] [--seed S]]
//   npm run cli -- needle --model DIR --lengths L1,L2,... [--trials N] [--pos MODE] [--beta-c C] [--train-ctx C]
//                         [--text FILE] [--json]   (multi-key needle in a haystack, src/eval/needle.ts)
//   npm run cli -- generate --model DIR --prompt TEXT --tokens N [--pos MODE] [--drop-at K] [--window W]
//                         [--beta B] [--json]   (greedy, with the KV cache)
//   npm run cli -- make-checkpoint --like SmolLM-135M|SmolLM-360M --out DIR [--dtype BF16] [--attention-type T]
//                         [--shards N] [--seed S]   (a published model's shape with random weights)
// --model DIR may also be hf:ORG/NAME[@REVISION]: a model on the Hugging Face Hub (args.ts modelSource).
// Progress goes to stderr; any error is one line on stderr and a non-zero exit.

import { parseArgs } from 'node:util';
import { perplexityByLength } from '../eval/perplexity.ts';
import { formatPositionMode } from '../model/positions.ts';
import { writeSafetensors } from '../model/safetensors.ts';
import { writeFileAtomic } from '../model/save-node.ts';
import {
  attentionWindow,
  betaCOption,
  lengthsOption,
  modelSource,
  number,
  numberIn,
  openModel,
  openModelAndTokens,
  openTextFile,
  OPTIONS,
  positions,
  progress,
  progressDone,
  readText,
  required,
  tokensOption,
  trainContextOption,
  UsageError,
  type Args,
} from './args.ts';
import { checkFileOutput, modelInput } from './output.ts';
import { evalCurves } from './eval.ts';
import { convert } from './convert.ts';
import { readIds } from './ids.ts';
import { fitBeta, grads, train } from './train.ts';
import { needle } from './needle.ts';
import { generate } from './generate.ts';
import { basename, join, resolve } from 'node:path';
import { parseEvalJson } from '../eval/curves.ts';
import { perplexityTable, retrievalTable } from '../eval/report.ts';
import { makeCheckpoint } from './make-checkpoint.ts';

const USAGE = `usage: npm run cli -- <command> [options]
  info   --model DIR
  logits --model DIR --ids IDS.json --out OUT.safetensors [--pos MODE] [--beta B]
  ppl    --model DIR --text FILE --lengths L1,L2,... [--tokens N] [--pos MODE] [--window W] [--beta-c C] [--train-ctx C] [--json]
  grads  --model DIR --ids IDS.json --out OUT.safetensors [--pos MODE]
  train  --out DIR (--init random --config CONFIG.json | --from DIR) --pos MODE --steps N --ctx C --batch B --lr PEAK
         [--warmup W] [--seed S] [--resume] [--qk-norm] [--data DIR] [--save-minutes M] [--stop-after S]
         [--records lookup|mqar [--records-plain P] [--records-max N] [--monitor-every S] [--monitor-trials N]]
  fit-beta --model DIR --text FILE --lengths L1,L2,... [--grid C1,C2,...] [--tokens N] [--train-ctx C] [--pos MODE]
  eval   --model DIR --text FILE --lengths L1,L2,... [--tokens N] [--train-ctx C] [--beta-c C]
         [--modes rope,pi,ntk,yarn,dynamic,crop,none] [--none-label NAME] [--out EVAL.json]   (perplexity curves of every mode)
         [--retrieval lookup|mqar --retrieval-lengths L1,... [--trials N] [--seed S]]   (and the records test per mode)
  convert --model DIR --out DIR [--dtype F16|BF16|F32] [--force]   (re-save the weights in another dtype; --force
         replaces a checkpoint already in --out)
  report --model DIR1,DIR2,...   (markdown tables of perplexity and retrieval from each model's eval.json)
  needle --model DIR --lengths L1,L2,... [--trials N] [--pos MODE] [--window W] [--beta-c C] [--train-ctx C] [--text FILE]
         [--seed S] [--task needle|records] [--format lookup|mqar] [--json]
         (multi-key needle in a haystack, or the records task of byte-level models with inside/outside the last
         C_train tokens; text default public/data/austen/persuasion.txt)
  generate --model DIR --prompt TEXT --tokens N [--pos MODE] [--drop-at K] [--window W] [--beta B] [--json]
         (greedy continuation with the KV cache; --drop-at K: mode none after K generated tokens)
  make-checkpoint --like SmolLM-135M|SmolLM-360M --out DIR [--dtype BF16|F16|F32] [--attention-type rope|nope|qk_norm_nope]
         [--shards N] [--seed S]   (the published config.json with seeded random weights at its init scale, byte-level
         tokenizer: the real-size path without the Hub)
MODE: rope | none | pi:F | ntk:F | dynamic:F | yarn:F (default: what config.json says); needle also takes KIND:L/C
--window W (ppl, needle, generate): each query attends to at most the last W tokens (RoPE cropped to C_train: --window C_train)
--weights f16 (logits, ppl, eval, needle): keep the weight matrices in half precision, half the GPU memory
--precision f16|auto (logits, ppl, eval, needle): f16 weights and activations (half the memory again; needs the
  adapter's shader-f16); auto: f16 where the adapter has shader-f16, f32 elsewhere. Default f32 (exact)
WEBGPU_ADAPTER=NAME picks the adapter whose name contains NAME (e.g. llvmpipe for Mesa's lavapipe, which has shader-f16)
--model takes a checkpoint directory or hf:ORG/NAME[@REVISION], a Hugging Face Hub model (HF_ENDPOINT, default
https://huggingface.co; downloads cached in DROPE_CACHE_DIR, default ~/.cache/drope-playground/hub)`;

async function info(args: Args): Promise<void> {
  const { engine, model, dir } = await openModel(args);
  const c = model.config;
  const summary = {
    model: dir,
    architecture: `Llama, ${c.numLayers} layers, hidden ${c.hiddenSize}, MLP ${c.intermediateSize}, vocab ${c.vocabSize}`,
    attention: `${c.numHeads} query heads, ${c.numKvHeads} key/value heads, head dim ${c.headDim}${c.qkNorm ? ', QK-norm' : ''}`,
    positions: formatPositionMode(model.defaultPositions),
    attention_type: c.attentionType,
    max_position_embeddings: c.maxPositionEmbeddings,
    rope_theta: c.ropeTheta,
    tie_word_embeddings: c.tieWordEmbeddings,
    adapter: engine.adapterName,
  };
  if (args.json) console.log(JSON.stringify(summary, null, 2));
  else for (const [key, value] of Object.entries(summary)) console.log(`${key.padEnd(24)} ${value}`);
  engine.destroy();
}

async function logits(args: Args): Promise<void> {
  const idsPath = required(args, 'ids');
  const beta = number(args.beta, 'beta', 1, numberIn(0, 1000));
  const options = { positions: positions(args), beta };
  const source = modelSource(required(args, 'model'));
  const out = await checkFileOutput(required(args, 'out'), [
    modelInput(required(args, 'model')),
    { option: '--ids', path: idsPath, kind: 'file' },
  ]);
  const { ids, B, T } = await readIds(idsPath);
  const { engine, model } = await openModel(args, source);
  const V = model.config.vocabSize;
  const logitValues = await model.logits(ids, B, T, options);
  const nll = T > 1 ? await model.nll(ids, B, T, options) : new Float32Array(0);
  await writeFileAtomic(
    out,
    writeSafetensors(
      {
        logits: { dtype: 'F32', shape: [B, T, V], data: logitValues },
        nll: { dtype: 'F32', shape: [B, T - 1], data: nll },
      },
      { positions: formatPositionMode(options.positions ?? model.defaultPositions), beta: String(beta) },
    ),
  );
  progress(`wrote logits [${B}, ${T}, ${V}] and nll [${B}, ${T - 1}] to ${out}`);
  progressDone();
  engine.destroy();
}

async function ppl(args: Args): Promise<void> {
  const text = await openTextFile(required(args, 'text'));
  const lengths = lengthsOption(args);
  const maxTokens = tokensOption(args);
  const betaC = betaCOption(args);
  const window = attentionWindow(args);
  const pos = positions(args);
  const { engine, model, tokens, trainContext } = await openModelAndTokens(args, text, maxTokens, trainContextOption(args));
  const started = Date.now();
  const result = await perplexityByLength(model, tokens, {
    lengths,
    positions: pos,
    window,
    betaC,
    trainContext,
    onProgress: (done, total, L) => {
      const elapsed = (Date.now() - started) / 1000;
      const eta = done > 0 ? (elapsed * (total - done)) / done : 0;
      progress(`ppl: length ${L}, window ${done}/${total}, ${elapsed.toFixed(0)}s elapsed, ~${eta.toFixed(0)}s left`);
    },
  });
  progressDone();
  const json = Object.fromEntries([...result].map(([L, value]) => [String(L), value]));
  if (args.json) console.log(JSON.stringify(json));
  else for (const [L, value] of result) console.log(`${String(L).padStart(6)}  ${value.toFixed(4)}`);
  engine.destroy();
}

/** `report --model DIR1,DIR2,...`: the README's perplexity and retrieval tables from each model's eval.json. */
async function report(args: Args): Promise<void> {
  const dirs = required(args, 'model').split(',');
  const models = await Promise.all(
    dirs.map(async (dir) => ({
      name: basename(resolve(dir)),
      file: parseEvalJson(await readText(join(dir, 'eval.json')), join(dir, 'eval.json')),
    })),
  );
  console.log(`${perplexityTable(models)}\n`);
  if (models.some((m) => m.file.retrieval)) console.log(retrievalTable(models));
}

const COMMANDS: Record<string, (args: Args) => Promise<void>> = {
  info,
  logits,
  ppl,
  grads,
  train,
  'fit-beta': fitBeta,
  eval: evalCurves,
  convert,
  needle,
  report,
  generate,
  'make-checkpoint': makeCheckpoint,
};

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    process.stderr.write(`error: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const [command] = parsed.positionals;
  const run = command ? COMMANDS[command] : undefined;
  if (parsed.values.help || !run) {
    process.stderr.write(`${command && !parsed.values.help ? `error: unknown command "${command}"\n` : ''}${USAGE}\n`);
    return parsed.values.help ? 0 : 2;
  }
  try {
    await run(parsed.values);
    return 0;
  } catch (e) {
    progressDone();
    // One line, but all of it: a checkpoint error lists its problems on the lines after the first.
    const message = ((e as Error).message ?? String(e))
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean)
      .join(' ');
    process.stderr.write(`error: ${message}\n`);
    if (e instanceof UsageError) process.stderr.write(`${USAGE}\n`);
    return e instanceof UsageError ? 2 : 1;
  }
}

// Exit explicitly: a live Dawn instance would otherwise keep the process running.
main(process.argv.slice(2)).then((code) => process.exit(code));
