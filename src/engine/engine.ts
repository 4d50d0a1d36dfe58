// The engine: one GPUDevice, a pipeline cache, tensors, and a queue of kernel calls.
// The browser (navigator.gpu), the worker, the CLI and the tests (npm `webgpu`, Dawn) all use it.
//
// Calls are recorded into one compute pass; `flush()` submits them inside `validation` and
// `out-of-memory` error scopes, so a bad call becomes a thrown Error that names the kernel.

import { foldDispatch, type KernelCall } from './kernel.ts';
import { shaderSource, type ShaderName } from './shaders.ts';
import { packF16, unpackF16 } from './f16.ts';
import { byteSize, numel, shapeString, type DType, type Precision, type Tensor } from './tensor.ts';
import { packUniforms } from './uniforms.ts';

export const NO_ADAPTER_HELP =
  'No WebGPU adapter is available. In a browser, use a recent Chrome or Edge (or start Chromium with ' +
  '--enable-unsafe-webgpu); in Node, install the Vulkan loader (apt-get install libvulkan1) and a Vulkan ' +
  "driver, e.g. VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json from Debian's chromium package.";

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** True for CPU implementations (SwiftShader, lavapipe, llvmpipe, WARP). */
  software: boolean;
  features: string[];
}

export class EngineError extends Error {}

/** GPU time of one kernel (`family.entry`) on one set of bindings (layer numbers folded into `*`), summed over a profile. */
export interface KernelTime {
  kernel: string;
  /** `outputs ← inputs`, by tensor label: which projection a matmul is, for instance. */
  bindings: string;
  calls: number;
  ms: number;
}

/** Timestamp pairs a profile records before resolving them (each dispatch is one pair). */
const PROFILE_SLOTS = 1024;

interface Profile {
  querySet: GPUQuerySet;
  resolved: GPUBuffer;
  /** Kernel keys of the dispatches recorded since the last resolve, in slot order. */
  slots: string[];
  /** Resolved batches waiting for the submit that fills them. */
  batches: { staging: GPUBuffer; slots: string[] }[];
  totals: Map<string, { calls: number; ns: bigint }>;
}

/** A profile row's key: the kernel and its bindings' labels, layer numbers folded so that a row sums over layers. */
function profileKey(kernel: string, call: KernelCall): string {
  const labels = (tensors: readonly Tensor[]) => tensors.map((t) => t.label.replace(/\.\d+\./g, '.*.')).join(', ');
  return `${kernel}|${labels(call.outputs)} ← ${labels(call.inputs)}`;
}

const SOFTWARE_ADAPTERS = /swiftshader|lavapipe|llvmpipe|warp|software|cpu/i;

export class Engine {
  readonly device: GPUDevice;
  readonly adapter: AdapterSummary;
  private readonly modules = new Map<string, GPUShaderModule>();
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly layouts = new Map<string, { bindGroup: GPUBindGroupLayout; pipeline: GPUPipelineLayout }>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private pendingReleases: GPUBuffer[] = [];
  private readonly scratchTensors = new Map<string, Tensor>();
  private lostReason: string | null = null;
  private readonly failureListeners = new Set<(message: string, lost: boolean) => void>();
  /** Set by `destroy()`: a 'destroyed' loss that follows is the engine's own teardown, not a failure. */
  private disposed = false;
  /** Rejecters of the GPU promises awaited now (see `whileAlive`), rejected when the device is lost. */
  private readonly waiting = new Set<(error: Error) => void>();
  /** Bytes of the tensors alive now (uniform and staging buffers aside). */
  bytesAllocated = 0;
  /** The most `bytesAllocated` has been (a test or a bench may lower it to `bytesAllocated` to start a new watch). */
  peakBytesAllocated = 0;
  /** Open between `beginProfile()` and `endProfile()`: every dispatch timed on the GPU. */
  private profile: Profile | null = null;

  private constructor(device: GPUDevice, adapter: AdapterSummary) {
    this.device = device;
    this.adapter = adapter;
    device.lost.then((info) => {
      // Only our own destroy() is a quiet end; a device.destroy() from elsewhere (the app's
      // test-only loseDevice command) is treated like a driver reset, as a loss.
      if (info.reason === 'destroyed' && this.disposed) return;
      this.lostReason = `the GPU device was lost (${info.reason ?? 'unknown'}): ${info.message || 'no reason given'}`;
      const error = new EngineError(this.lostReason);
      for (const reject of this.waiting) reject(error);
      this.waiting.clear();
      this.fail(this.lostReason, true);
    });
    device.addEventListener('uncapturederror', (event) => {
      this.fail(`WebGPU error: ${(event as GPUUncapturedErrorEvent).error.message}`, false);
    });
  }

  /** Opens the adapter's device with its largest buffer and workgroup limits. */
  static async create(gpu: GPU | undefined, options: GPURequestAdapterOptions = {}): Promise<Engine> {
    if (!gpu) throw new EngineError(NO_ADAPTER_HELP);
    const adapter = await gpu.requestAdapter(options);
    if (!adapter) throw new EngineError(NO_ADAPTER_HELP);
    const wanted: (keyof GPUSupportedLimits)[] = [
      'maxBufferSize',
      'maxStorageBufferBindingSize',
      'maxStorageBuffersPerShaderStage',
      'maxComputeWorkgroupStorageSize',
      'maxComputeInvocationsPerWorkgroup',
      'maxComputeWorkgroupSizeX',
      'maxComputeWorkgroupSizeY',
      'maxComputeWorkgroupsPerDimension',
    ];
    const requiredLimits: Record<string, number> = {};
    for (const name of wanted) requiredLimits[name] = adapter.limits[name] as number;
    // shader-f16 lets kernels store activations as f16 (half the memory); the rest stays f32.
    const requiredFeatures = (['timestamp-query', 'shader-f16'] as GPUFeatureName[]).filter((f) => adapter.features.has(f));
    const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
    const info = adapter.info;
    const name = [info.vendor, info.architecture, info.device, info.description].join(' ');
    return new Engine(device, {
      vendor: info.vendor,
      architecture: info.architecture,
      device: info.device,
      description: info.description,
      software: SOFTWARE_ADAPTERS.test(name) || Boolean((info as { isFallbackAdapter?: boolean }).isFallbackAdapter),
      features: [...adapter.features].sort(),
    });
  }

  get adapterName(): string {
    const a = this.adapter;
    const parts = [a.vendor, a.architecture, a.description || a.device].filter(Boolean);
    return (parts.join(' / ') || 'unknown adapter') + (a.software ? ' (software)' : '');
  }

  /** Whether kernels can run at f16 precision here (the device has `shader-f16`). */
  get supportsF16(): boolean {
    return this.device.features.has('shader-f16');
  }

  get limits(): GPUSupportedLimits {
    return this.device.limits;
  }

  /** Called once for a lost device (`lost` true) or for each error no scope caught. */
  onFailure(listener: (message: string, lost: boolean) => void): () => void {
    this.failureListeners.add(listener);
    return () => this.failureListeners.delete(listener);
  }

  private fail(message: string, lost: boolean): void {
    for (const listener of this.failureListeners) listener(message, lost);
  }

  private checkAlive(): void {
    if (this.lostReason) throw new EngineError(this.lostReason);
  }

  /** True once the device is lost (not by `destroy()`): every later call throws. */
  get isLost(): boolean {
    return this.lostReason !== null;
  }

  /** Throws the loss as an EngineError once the device is lost (for loops that wait without GPU work). */
  assertAlive(): void {
    this.checkAlive();
  }

  /**
   * A GPU promise that also ends, with the loss as an EngineError, when the device is lost. Dawn in
   * Node settles pending work after destroy() (mapAsync rejects with a bare AbortError, popErrorScope
   * resolves null, onSubmittedWorkDone resolves: test/train/device-loss.test.ts), but nothing in the
   * spec orders that before or after `device.lost`, and a promise that never settled (another
   * implementation, a crashed GPU process) would hang a training loop for good: this makes "never a
   * hang" ours to keep.
   */
  private whileAlive<T>(promise: Promise<T>): Promise<T> {
    if (this.lostReason) return Promise.reject(new EngineError(this.lostReason));
    return new Promise<T>((resolve, reject) => {
      this.waiting.add(reject);
      promise.then(resolve, reject).finally(() => this.waiting.delete(reject));
    });
  }

  // ---------------------------------------------------------------- tensors

  /** Throws, naming the limit, when a tensor of this shape cannot exist on this device. */
  assertFits(shape: readonly number[], label: string, dtype: DType = 'f32'): void {
    const bytes = byteSize(shape, dtype);
    const limits = this.device.limits;
    if (bytes > limits.maxStorageBufferBindingSize) {
      throw new EngineError(
        `${label} ${shapeString(shape)} needs ${bytes} bytes, more than this adapter's maxStorageBufferBindingSize (${limits.maxStorageBufferBindingSize}); use a shorter sequence or a smaller batch`,
      );
    }
    if (bytes > limits.maxBufferSize) {
      throw new EngineError(
        `${label} ${shapeString(shape)} needs ${bytes} bytes, more than this adapter's maxBufferSize (${limits.maxBufferSize}); use a shorter sequence or a smaller batch`,
      );
    }
  }

  /** Allocates a zero-filled tensor, checking the adapter's buffer limits first. */
  tensor(shape: readonly number[], label: string, dtype: DType = 'f32'): Tensor {
    this.checkAlive();
    this.assertFits(shape, label, dtype);
    const bytes = Math.max(4, byteSize(shape, dtype));
    const buffer = this.device.createBuffer({
      label,
      size: Math.ceil(bytes / 4) * 4,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
    this.bytesAllocated += buffer.size;
    this.peakBytesAllocated = Math.max(this.peakBytesAllocated, this.bytesAllocated);
    return { buffer, shape: [...shape], dtype, label };
  }

  /**
   * A tensor holding `data` (f32, or u32 for ids). With `as: 'f16'` the f32 values are
   * rounded to binary16 and packed two per word (weights at half the memory, see f16.ts).
   */
  upload(data: Float32Array | Uint32Array, shape: readonly number[], label: string, as?: 'f16'): Tensor {
    if (data.length !== numel(shape)) {
      throw new EngineError(`${label}: ${data.length} values do not fill shape ${shapeString(shape)}`);
    }
    if (as === 'f16' && !(data instanceof Float32Array)) throw new EngineError(`${label}: only f32 data can be packed as f16`);
    const t = this.tensor(shape, label, as ?? (data instanceof Uint32Array ? 'u32' : 'f32'));
    this.write(t, as === 'f16' ? packF16(data) : data);
    return t;
  }

  /**
   * Writes data into a tensor, ordered after the kernel calls recorded so far: with calls
   * pending, through a staging copy in the same encoder (queue.writeBuffer would land before them).
   * `data` and `start` count 4-byte words: elements, or packed pairs of an f16 tensor.
   */
  write(tensor: Tensor, data: Float32Array | Uint32Array, start = 0): void {
    this.checkAlive();
    if (start + data.length > Math.ceil(byteSize(tensor.shape, tensor.dtype) / 4)) {
      throw new EngineError(`${tensor.label}: writing ${data.length} values at ${start} overflows ${shapeString(tensor.shape)}`);
    }
    if (!this.encoder) {
      this.device.queue.writeBuffer(tensor.buffer, start * 4, data.buffer, data.byteOffset, data.byteLength);
      return;
    }
    const encoder = this.recorder();
    this.endPass();
    const staging = this.device.createBuffer({
      label: `${tensor.label}.upload`,
      size: Math.max(4, data.byteLength),
      usage: GPUBufferUsage.COPY_SRC,
      mappedAtCreation: true,
    });
    new Uint8Array(staging.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    staging.unmap();
    this.pendingReleases.push(staging);
    if (data.byteLength > 0) encoder.copyBufferToBuffer(staging, 0, tensor.buffer, start * 4, data.byteLength);
  }

  release(...tensors: Tensor[]): void {
    for (const t of tensors) {
      this.bytesAllocated -= t.buffer.size;
      t.buffer.destroy();
    }
  }

  /**
   * A kernel family's scratch buffer of at least `elements` elements, kept per label and grown by
   * doubling; a replaced buffer is destroyed after the work recorded so far has been submitted.
   */
  scratch(label: string, elements: number, dtype: DType = 'f32'): Tensor {
    const current = this.scratchTensors.get(label);
    if (current && numel(current.shape) >= elements) return current;
    const grown = this.tensor([Math.max(elements, 2 * numel(current?.shape ?? [0]))], label, dtype);
    if (current) {
      this.bytesAllocated -= current.buffer.size;
      this.pendingReleases.push(current.buffer);
    }
    this.scratchTensors.set(label, grown);
    return grown;
  }

  /** Submits pending work and copies the tensor back (an f16 one converted to f32). */
  async read(tensor: Tensor): Promise<Float32Array> {
    if (tensor.dtype === 'f16') {
      const words = await this.read({ ...tensor, dtype: 'u32', shape: [Math.ceil(byteSize(tensor.shape, tensor.dtype) / 4)] });
      return unpackF16(new Uint32Array(words.buffer), numel(tensor.shape));
    }
    const bytes = numel(tensor.shape) * 4;
    const staging = this.device.createBuffer({
      label: `${tensor.label}.readback`,
      size: Math.max(4, bytes),
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    const encoder = this.recorder();
    this.endPass();
    encoder.copyBufferToBuffer(tensor.buffer, 0, staging, 0, Math.max(4, bytes));
    await this.flush();
    try {
      await this.whileAlive(staging.mapAsync(GPUMapMode.READ));
    } catch (e) {
      staging.destroy();
      // On a lost device Dawn rejects mapAsync with a bare AbortError, possibly before `lost`
      // resolves: give the loss a moment to arrive so the error names it.
      if (!this.lostReason && !this.disposed) await Promise.race([this.device.lost, new Promise((resolve) => setTimeout(resolve, 1000))]);
      this.checkAlive();
      if (e instanceof EngineError) throw e;
      throw new EngineError(`reading ${tensor.label} back failed: ${e instanceof Error ? `${e.name} ${e.message}`.trim() : String(e)}`);
    }
    const out = new Float32Array(staging.getMappedRange().slice(0, bytes));
    staging.unmap();
    staging.destroy();
    return out;
  }

  async readU32(tensor: Tensor): Promise<Uint32Array> {
    const f = await this.read(tensor);
    return new Uint32Array(f.buffer);
  }

  // ---------------------------------------------------------------- kernels

  private module(shader: ShaderName, precision: Precision): GPUShaderModule {
    const key = `${shader}:${precision}`;
    let module = this.modules.get(key);
    if (!module) {
      if (precision === 'f16' && !this.supportsF16) {
        throw new EngineError(
          `${shader} at f16 precision needs the adapter feature shader-f16, which ${this.adapterName} does not have; use f32 activations`,
        );
      }
      module = this.device.createShaderModule({ label: key, code: shaderSource(shader, precision) });
      this.modules.set(key, module);
    }
    return module;
  }

  private layout(outputs: number, inputs: number, uniforms: boolean) {
    const key = `${outputs}:${inputs}:${uniforms}`;
    let layout = this.layouts.get(key);
    if (!layout) {
      const entries: GPUBindGroupLayoutEntry[] = [];
      for (let i = 0; i < outputs + inputs; i++) {
        entries.push({ binding: i, visibility: GPUShaderStage.COMPUTE, buffer: { type: i < outputs ? 'storage' : 'read-only-storage' } });
      }
      if (uniforms) entries.push({ binding: outputs + inputs, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } });
      const bindGroup = this.device.createBindGroupLayout({ label: `layout.${key}`, entries });
      const pipeline = this.device.createPipelineLayout({ label: `layout.${key}`, bindGroupLayouts: [bindGroup] });
      layout = { bindGroup, pipeline };
      this.layouts.set(key, layout);
    }
    return layout;
  }

  private pipeline(call: KernelCall, layout: GPUPipelineLayout, layoutKey: string): GPUComputePipeline {
    const constants = call.constants ?? {};
    const precision = call.precision ?? 'f32';
    const key = [
      call.shader,
      call.entryPoint,
      precision,
      layoutKey,
      ...Object.keys(constants)
        .sort()
        .map((k) => `${k}=${constants[k]}`),
    ].join('|');
    let pipeline = this.pipelines.get(key);
    if (!pipeline) {
      pipeline = this.device.createComputePipeline({
        label: `${call.shader}.${call.entryPoint}`,
        layout,
        compute: { module: this.module(call.shader, precision), entryPoint: call.entryPoint, constants: { ...constants } },
      });
      this.pipelines.set(key, pipeline);
    }
    return pipeline;
  }

  private recorder(): GPUCommandEncoder {
    this.checkAlive();
    if (!this.encoder) {
      this.device.pushErrorScope('out-of-memory');
      this.device.pushErrorScope('validation');
      this.encoder = this.device.createCommandEncoder({ label: 'engine' });
    }
    return this.encoder;
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
  }

  /** Records one kernel call; it runs at the next `flush()` or `read()`. */
  run(call: KernelCall): void {
    const label = `${call.shader}.${call.entryPoint}`;
    const bindings = [...call.outputs, ...call.inputs];
    for (const t of bindings) {
      if (!t?.buffer) throw new EngineError(`${label}: a binding is missing`);
    }
    // WebGPU rejects a buffer bound writable together with any other binding of itself, but only
    // when the pass is validated, far from here: name the tensors instead. (Ops whose calls share
    // tensors across several dispatches check those pairs themselves.)
    for (const [i, out] of call.outputs.entries()) {
      const j = bindings.findIndex((t, k) => k !== i && t.buffer === out.buffer);
      if (j >= 0) {
        const role = j < call.outputs.length ? 'output' : 'input';
        throw new EngineError(`${label}: the output ${out.label} must not alias the ${role} ${bindings[j].label}`);
      }
    }
    const encoder = this.recorder();
    const hasUniforms = call.uniforms !== undefined;
    const layoutKey = `${call.outputs.length}:${call.inputs.length}:${hasUniforms}`;
    const layout = this.layout(call.outputs.length, call.inputs.length, hasUniforms);
    const pipeline = this.pipeline(call, layout.pipeline, layoutKey);
    const entries: GPUBindGroupEntry[] = bindings.map((t, i) => ({ binding: i, resource: { buffer: t.buffer } }));
    if (call.uniforms) {
      const data = packUniforms(call.uniforms);
      const buffer = this.device.createBuffer({
        label: `${label}.uniforms`,
        size: data.byteLength,
        usage: GPUBufferUsage.UNIFORM,
        mappedAtCreation: true,
      });
      new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(data));
      buffer.unmap();
      this.pendingReleases.push(buffer);
      entries.push({ binding: entries.length, resource: { buffer } });
    }
    const bindGroup = this.device.createBindGroup({ label, layout: layout.bindGroup, entries });
    const [x, y, z] = foldDispatch(call.workgroups, this.device.limits.maxComputeWorkgroupsPerDimension);
    if (x * y * z === 0) return;
    if (this.profile) {
      this.endPass();
      this.pass = this.timedPass(encoder, this.profile, profileKey(label, call));
    }
    if (!this.pass) this.pass = encoder.beginComputePass({ label: 'engine.pass' });
    this.pass.setPipeline(pipeline);
    this.pass.setBindGroup(0, bindGroup);
    this.pass.dispatchWorkgroups(x, y, z);
    if (this.profile) this.endPass();
  }

  // ---------------------------------------------------------------- profiling

  /**
   * Starts timing every dispatch on the GPU (`timestamp-query`): each call gets a compute pass of
   * its own whose start and end the GPU stamps, so the figures leave out the CPU's recording and
   * submitting. Dispatches are no longer batched in one pass, so time the same work unprofiled for
   * throughput; the profile says where the GPU's time goes.
   */
  beginProfile(): void {
    if (!this.device.features.has('timestamp-query')) {
      throw new EngineError(`profiling needs the adapter feature timestamp-query, which ${this.adapterName} does not have`);
    }
    if (this.profile) throw new EngineError('a profile is already open');
    this.endPass();
    this.profile = {
      querySet: this.device.createQuerySet({ label: 'engine.profile', type: 'timestamp', count: 2 * PROFILE_SLOTS }),
      resolved: this.device.createBuffer({
        label: 'engine.profile.resolved',
        size: 16 * PROFILE_SLOTS,
        usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
      }),
      slots: [],
      batches: [],
      totals: new Map(),
    };
  }

  /** Ends the profile (after the recorded work has run) and returns GPU time per kernel and output, longest first. */
  async endProfile(): Promise<KernelTime[]> {
    const profile = this.profile;
    if (!profile) throw new EngineError('no profile is open');
    try {
      await this.flush();
    } finally {
      this.profile = null;
      profile.querySet.destroy();
      profile.resolved.destroy();
      for (const { staging } of profile.batches) staging.destroy(); // left unread by a failed flush
    }
    const rows = [...profile.totals].map(([key, { calls, ns }]) => {
      const [kernel, bindings] = key.split('|');
      return { kernel, bindings, calls, ms: Number(ns) / 1e6 };
    });
    return rows.sort((a, b) => b.ms - a.ms);
  }

  private timedPass(encoder: GPUCommandEncoder, profile: Profile, key: string): GPUComputePassEncoder {
    if (profile.slots.length === PROFILE_SLOTS) this.resolveProfile(encoder, profile);
    const slot = profile.slots.push(key) - 1;
    return encoder.beginComputePass({
      label: `engine.pass.${key}`,
      timestampWrites: { querySet: profile.querySet, beginningOfPassWriteIndex: 2 * slot, endOfPassWriteIndex: 2 * slot + 1 },
    });
  }

  /** Copies the slots' timestamps to a staging buffer read after the submit; the slots are free again. */
  private resolveProfile(encoder: GPUCommandEncoder, profile: Profile): void {
    const count = profile.slots.length;
    if (count === 0) return;
    const staging = this.device.createBuffer({
      label: 'engine.profile.read',
      size: 16 * count,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    encoder.resolveQuerySet(profile.querySet, 0, 2 * count, profile.resolved, 0);
    encoder.copyBufferToBuffer(profile.resolved, 0, staging, 0, 16 * count);
    profile.batches.push({ staging, slots: profile.slots });
    profile.slots = [];
  }

  private async collectProfile(profile: Profile): Promise<void> {
    const batches = profile.batches;
    profile.batches = [];
    for (const { staging, slots } of batches) {
      try {
        await this.whileAlive(staging.mapAsync(GPUMapMode.READ));
        const stamps = new BigUint64Array(staging.getMappedRange());
        slots.forEach((key, i) => {
          const begin = stamps[2 * i];
          const end = stamps[2 * i + 1];
          const total = profile.totals.get(key) ?? { calls: 0, ns: 0n };
          total.calls += 1;
          // Timestamps may be reset or reordered by the implementation; a negative span counts as zero.
          if (end > begin) total.ns += end - begin;
          profile.totals.set(key, total);
        });
      } finally {
        staging.destroy();
      }
    }
  }

  /** Sets a tensor to zero, in order with the recorded calls. */
  zero(tensor: Tensor): void {
    const encoder = this.recorder();
    this.endPass();
    encoder.clearBuffer(tensor.buffer);
  }

  /**
   * Copies `count` elements of `src` from `srcStart` into `dst` at `dstStart` (default: all of src).
   * Both must have one dtype; for f16 the offsets and count must be even (copies move 4-byte words).
   */
  copy(dst: Tensor, src: Tensor, range: { srcStart?: number; dstStart?: number; count?: number } = {}): void {
    const what = `copy ${src.label} -> ${dst.label}`;
    if (src.dtype !== dst.dtype) throw new EngineError(`${what}: ${src.dtype} and ${dst.dtype} differ`);
    const { srcStart = 0, dstStart = 0, count = numel(src.shape) - srcStart } = range;
    if (srcStart + count > numel(src.shape) || dstStart + count > numel(dst.shape)) {
      throw new EngineError(`${what}: ${count} elements do not fit`);
    }
    const bytes = src.dtype === 'f16' ? 2 : 4;
    let byteCount = count * bytes;
    // An f16 tensor of odd length ends in half a word of padding: a copy to the end of both takes it along.
    if (byteCount % 4 && srcStart + count === numel(src.shape) && dstStart + count === numel(dst.shape)) byteCount += 2;
    if ((srcStart * bytes) % 4 || (dstStart * bytes) % 4 || byteCount % 4) {
      throw new EngineError(`${what}: f16 copies move whole words; start ${srcStart} -> ${dstStart} and count ${count} must be even`);
    }
    const encoder = this.recorder();
    this.endPass();
    encoder.copyBufferToBuffer(src.buffer, srcStart * bytes, dst.buffer, dstStart * bytes, byteCount);
  }

  /** Submits recorded work and reports any validation or out-of-memory error it raised. */
  async flush(): Promise<void> {
    if (!this.encoder) return;
    this.endPass();
    if (this.profile) this.resolveProfile(this.encoder, this.profile);
    const commands = this.encoder.finish();
    this.encoder = null;
    this.device.queue.submit([commands]);
    for (const buffer of this.pendingReleases) buffer.destroy();
    this.pendingReleases = [];
    const validation = await this.whileAlive(this.device.popErrorScope());
    const oom = await this.whileAlive(this.device.popErrorScope());
    this.checkAlive();
    if (oom) throw new EngineError(`the GPU ran out of memory: ${oom.message}`);
    if (validation) throw new EngineError(`WebGPU validation error: ${validation.message}`);
    if (this.profile) await this.collectProfile(this.profile);
  }

  /** Waits until the GPU has finished everything submitted so far. */
  async sync(): Promise<void> {
    await this.flush();
    await this.whileAlive(this.device.queue.onSubmittedWorkDone());
    this.checkAlive();
  }

  destroy(): void {
    this.disposed = true;
    this.device.destroy();
  }
}
