// The main "Drop RoPE" reaching side by side: a slot generating with the dropped variant and RoPE
// on gets a retune to RoPE off (its next tokens come without rotary embeddings); other slots are
// left alone. The worker is scripted (test/ui/helpers/scripted-worker.ts): it records what is sent.

import { beforeEach, describe, expect, it } from 'vitest';
import { dropRopeInGenerations, dropRopeNow } from '../../src/ui/features/side-by-side/compare-actions.ts';
import { compareState, type SlotId } from '../../src/ui/features/side-by-side/slice.ts';
import { BASE_VARIANT, type VariantInfo } from '../../src/ui/settings.ts';
import { appStore } from '../../src/ui/store/store.ts';
import { scriptedController } from './helpers/scripted-worker.ts';

const base: VariantInfo = { id: BASE_VARIANT, label: 'RoPE', kind: 'base', hasRope: true, detail: 'As trained' };
const other: VariantInfo = { id: 'other', label: 'Other RoPE', kind: 'base', hasRope: true, detail: 'test' };

function recorder() {
  const { controller, controls } = scriptedController();
  return { controller, sent: controls };
}

function running(slot: SlotId, requestId: number) {
  compareState().setGeneration(slot, { requestId, status: 'running', text: 'abc', count: 3, ropeUntil: null });
}

beforeEach(() => {
  appStore().setState({ variants: [base, other], activeVariant: BASE_VARIANT });
  const compare = compareState();
  compare.setSlot('A', { variant: BASE_VARIANT, rope: true, scaling: 'none', c: 0 });
  compare.setSlot('B', { variant: BASE_VARIANT, rope: true, scaling: 'yarn', c: 0.2 });
  compare.setGeneration('A', null);
  compare.setGeneration('B', null);
});

describe('main Drop RoPE and side by side', () => {
  it('retunes every running generation of the dropped variant that has RoPE on', () => {
    running('A', 11);
    running('B', 12);
    const { controller, sent } = recorder();
    dropRopeInGenerations(controller, BASE_VARIANT);
    expect(sent).toEqual([
      { type: 'retune', target: 11, settings: { rope: false, scaling: 'none', c: 0 } },
      { type: 'retune', target: 12, settings: { rope: false, scaling: 'yarn', c: 0.2 } },
    ]);
    expect(compareState().slots.A.rope).toBe(false);
    expect(compareState().slots.B.rope).toBe(false);
  });

  it('leaves alone a slot that is not generating, runs without RoPE, or runs another variant', () => {
    running('A', 21);
    compareState().setSlot('A', { rope: false });
    compareState().setSlot('B', { variant: 'other' });
    running('B', 22);
    const { controller, sent } = recorder();
    dropRopeInGenerations(controller, BASE_VARIANT);
    expect(sent).toEqual([]);

    // Not generating: the slot's own setting is not the main button's business either.
    compareState().setSlot('A', { rope: true });
    compareState().updateGeneration('A', 21, { status: 'done' });
    dropRopeInGenerations(controller, BASE_VARIANT);
    expect(sent).toEqual([]);
    expect(compareState().slots.A.rope).toBe(true);

    // The other variant is dropped: B goes on without RoPE.
    dropRopeInGenerations(controller, 'other');
    expect(sent).toEqual([{ type: 'retune', target: 22, settings: { rope: false, scaling: 'yarn', c: 0.2 } }]);
  });

  it("a slot's own button retunes only its running generation", () => {
    running('B', 31);
    const { controller, sent } = recorder();
    dropRopeNow(controller, 'A');
    expect(sent).toEqual([]);
    expect(compareState().slots.A.rope).toBe(false);
    dropRopeNow(controller, 'B');
    expect(sent).toEqual([{ type: 'retune', target: 31, settings: { rope: false, scaling: 'yarn', c: 0.2 } }]);
  });
});
