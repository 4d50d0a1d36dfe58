// The URL round trip: every shareable setting survives serialize → parse, defaults stay out of the
// URL, bad values fall back to defaults, and syncUrl writes only when the query string changes.

import { describe, expect, it } from 'vitest';
import {
  coerceField,
  defaultConfig,
  parseUrlConfig,
  serializeUrlConfig,
  syncUrl,
  URL_FIELDS,
  type ShareableConfig,
  type UrlWindow,
} from '../../src/ui/store/url-state.ts';

const custom: ShareableConfig = {
  model: 'austen-rope',
  rope: false,
  scaling: 'yarn',
  factor: 8,
  c: 0.35,
  tokens: 2048,
  steps: 750,
  lr: 3e-4,
  batch: 8,
  seed: 42,
  layer: 3,
  head: 1,
};

function fakeWindow(search: string): UrlWindow & { writes: string[] } {
  const writes: string[] = [];
  const win = {
    writes,
    location: { pathname: '/app/', search, hash: '#chart' },
    history: {
      replaceState(_data: unknown, _unused: string, url: string) {
        writes.push(url);
        win.location.search = url.slice(url.indexOf('?') === -1 ? url.indexOf('#') : url.indexOf('?'), url.indexOf('#'));
      },
    },
  };
  return win;
}

describe('URL state', () => {
  it('round-trips every field', () => {
    const search = serializeUrlConfig(custom);
    expect(search).toBe(
      '?model=austen-rope&rope=0&scaling=yarn&factor=8&c=0.35&tokens=2048&steps=750&lr=0.0003&batch=8&seed=42&layer=3&head=1',
    );
    expect(parseUrlConfig(search)).toEqual(custom);
  });

  it('writes nothing for defaults and reads the defaults from an empty query', () => {
    expect(serializeUrlConfig(defaultConfig())).toBe('');
    expect(parseUrlConfig('')).toEqual(defaultConfig());
    expect(parseUrlConfig('?')).toEqual(defaultConfig());
  });

  it('keeps only non-default fields, in table order', () => {
    expect(serializeUrlConfig({ ...defaultConfig(), seed: 3, rope: false })).toBe('?rope=0&seed=3');
  });

  it('falls back to the default for each bad value and keeps the good ones', () => {
    const config = parseUrlConfig(
      '?model=../../etc&rope=maybe&scaling=bogus&factor=3&c=1.5&tokens=1000&steps=0&lr=-1&batch=2.5&seed=x&unknown=1&c=0.2',
    );
    expect(config).toEqual(defaultConfig());
    const partly = parseUrlConfig('?rope=false&scaling=ntk&c=abc&steps=12');
    expect(partly).toEqual({ ...defaultConfig(), rope: false, scaling: 'ntk', steps: 12 });
  });

  it('reads the scaling factor: per length by default, or one of the fixed factors', () => {
    expect(defaultConfig().factor).toBe('length');
    for (const factor of [2, 4, 8, 16] as const) {
      const search = serializeUrlConfig({ ...defaultConfig(), scaling: 'ntk', factor });
      expect(search).toBe(`?scaling=ntk&factor=${factor}`);
      expect(parseUrlConfig(search).factor).toBe(factor);
    }
    expect(serializeUrlConfig({ ...defaultConfig(), factor: 'length' })).toBe('');
    expect(parseUrlConfig('?factor=length').factor).toBe('length');
    for (const bad of ['3', '8.0', '0', 'L/C', '']) expect(parseUrlConfig(`?factor=${bad}`).factor).toBe('length');
    expect(coerceField('factor', 16)).toBe(16);
    expect(coerceField('factor', 5 as never)).toBeUndefined();
  });

  it('rejects numbers a hand-edited link might carry: hex, Infinity, exponents out of range', () => {
    expect(parseUrlConfig('?c=0x1').c).toBe(0);
    expect(parseUrlConfig('?c=Infinity').c).toBe(0);
    expect(parseUrlConfig('?lr=1e-9').lr).toBe(URL_FIELDS.lr.default);
    expect(parseUrlConfig('?lr=2e-3').lr).toBe(0.002);
  });

  it('rounds c to two decimals, so a link reproduces exactly what the page shows', () => {
    expect(parseUrlConfig('?c=0.123').c).toBe(0.12);
    expect(coerceField('c', 0.1 + 0.2)).toBe(0.3);
    expect(coerceField('c', 2)).toBeUndefined();
    expect(coerceField('tokens', 1000)).toBeUndefined();
    expect(coerceField('tokens', 4096)).toBe(4096);
  });

  it('syncUrl replaces the state only when the query string changes, keeping path and hash', () => {
    const win = fakeWindow('');
    expect(syncUrl(defaultConfig(), win)).toBe(false);
    expect(syncUrl({ ...defaultConfig(), rope: false }, win)).toBe(true);
    expect(win.writes).toEqual(['/app/?rope=0#chart']);
    expect(syncUrl({ ...defaultConfig(), rope: false }, win)).toBe(false);
    expect(syncUrl(defaultConfig(), win)).toBe(true);
    expect(win.writes).toEqual(['/app/?rope=0#chart', '/app/#chart']);
  });

  it('rewrites a link whose values the table normalizes', () => {
    const win = fakeWindow('?c=0.123&scaling=bogus');
    const config = parseUrlConfig(win.location.search);
    expect(syncUrl(config, win)).toBe(true);
    expect(win.writes).toEqual(['/app/?c=0.12#chart']);
  });
});
