// The shareable settings in the page's URL, driven by one declarative table: each field has a name
// (the query key), a type, its allowed values and a default. `parseUrlConfig` and
// `serializeUrlConfig` mirror each other; a missing or bad value falls back to the default, and a
// default value is left out of the URL so shared links stay short. Results never go in the URL.
// (The pattern of tensorflow/playground's src/state.ts.)

import { SCALING_FACTORS, SCALINGS, type Scaling, type ScalingFactor } from '../settings.ts';

/** Everything a shared link reproduces. */
export interface ShareableConfig {
  /** Model folder under /models/ ('' until the index has been read). */
  model: string;
  rope: boolean;
  scaling: Scaling;
  /** The scaling's factor: 'length' (L / C at each length) or a fixed 2, 4, 8, 16. */
  factor: ScalingFactor;
  /** Logit scale c. */
  c: number;
  /** Validation tokens per evaluated length. */
  tokens: number;
  /** Recalibration: optimizer steps, peak learning rate, windows per step, data-order seed. */
  steps: number;
  lr: number;
  batch: number;
  seed: number;
  /** The attention heatmap's layer and query head (0-based; one the model lacks shows 0). */
  layer: number;
  head: number;
}

interface Field<T> {
  /** 'boolean' | 'enum' | 'int' | 'decimal' | 'name': what the value is, for readers of the table. */
  type: string;
  default: T;
  /** The value a query string holds, or undefined when it is not an allowed value. */
  parse(text: string): T | undefined;
  format(value: T): string;
}

function booleanField(defaultValue: boolean): Field<boolean> {
  return {
    type: 'boolean',
    default: defaultValue,
    parse: (text) => (text === '1' || text === 'true' ? true : text === '0' || text === 'false' ? false : undefined),
    format: (value) => (value ? '1' : '0'),
  };
}

function enumField<T extends string | number>(values: readonly T[], defaultValue: T): Field<T> {
  return {
    type: 'enum',
    default: defaultValue,
    parse: (text) => values.find((v) => String(v) === text),
    format: (value) => String(value),
  };
}

const DECIMAL = /^(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i;

function intField(min: number, max: number, defaultValue: number): Field<number> {
  return {
    type: `int ${min}..${max}`,
    default: defaultValue,
    parse: (text) => {
      if (!/^\d+$/.test(text)) return undefined;
      const n = Number(text);
      return n >= min && n <= max ? n : undefined;
    },
    format: (value) => String(value),
  };
}

/** A decimal in [min, max], rounded to `digits` significant digits (so 0.1 + 0.2 reads "0.3"). */
function decimalField(min: number, max: number, defaultValue: number, digits: number): Field<number> {
  return {
    type: `decimal ${min}..${max}`,
    default: defaultValue,
    parse: (text) => {
      if (!DECIMAL.test(text)) return undefined;
      const n = Number(Number(text).toPrecision(digits));
      return n >= min && n <= max ? n : undefined;
    },
    format: (value) => String(Number(value.toPrecision(digits))),
  };
}

function nameField(pattern: RegExp): Field<string> {
  return {
    type: 'name',
    default: '',
    parse: (text) => (pattern.test(text) ? text : undefined),
    format: (value) => value,
  };
}

export const EVAL_TOKEN_CHOICES = [256, 512, 1024, 2048, 4096, 8192, 16384, 32768] as const;

/** The table: query key → field, in the order keys appear in the URL. */
export const URL_FIELDS: { [K in keyof ShareableConfig]: Field<ShareableConfig[K]> } = {
  model: nameField(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/),
  rope: booleanField(true),
  scaling: enumField(SCALINGS, 'none'),
  factor: enumField<ScalingFactor>(SCALING_FACTORS, 'length'),
  c: decimalField(0, 1, 0, 2),
  tokens: enumField<number>(EVAL_TOKEN_CHOICES, 8192),
  steps: intField(1, 5000, 200),
  lr: decimalField(1e-5, 1e-2, 1e-3, 3),
  batch: intField(1, 64, 16),
  seed: intField(0, 2 ** 31 - 1, 0),
  layer: intField(0, 255, 0),
  head: intField(0, 255, 0),
};

const KEYS = Object.keys(URL_FIELDS) as (keyof ShareableConfig)[];

export function defaultConfig(): ShareableConfig {
  return Object.fromEntries(KEYS.map((key) => [key, URL_FIELDS[key].default])) as unknown as ShareableConfig;
}

/** Reads a query string ("?rope=0&c=0.2", with or without "?"); bad or missing values are defaults. */
export function parseUrlConfig(search: string): ShareableConfig {
  const params = new URLSearchParams(search);
  const config = defaultConfig() as unknown as Record<string, unknown>;
  for (const key of KEYS) {
    const text = params.get(key);
    if (text === null) continue;
    const value = (URL_FIELDS[key] as Field<unknown>).parse(text);
    if (value !== undefined) config[key] = value;
  }
  return config as unknown as ShareableConfig;
}

/** The query string for a config: "" when everything is a default, else "?k=v&…" in table order. */
export function serializeUrlConfig(config: ShareableConfig): string {
  const params = new URLSearchParams();
  for (const key of KEYS) {
    const field = URL_FIELDS[key] as Field<unknown>;
    const text = field.format(config[key]);
    if (text !== field.format(field.default)) params.set(key, text);
  }
  const query = params.toString();
  return query ? `?${query}` : '';
}

/**
 * A value for one field as the URL would carry it: formatted and read back, so the store never
 * holds what a link could not reproduce (e.g. c = 0.123 becomes 0.12). Undefined when not allowed.
 */
export function coerceField<K extends keyof ShareableConfig>(key: K, value: ShareableConfig[K]): ShareableConfig[K] | undefined {
  const field = URL_FIELDS[key] as Field<ShareableConfig[K]>;
  return field.parse(field.format(value));
}

/** What syncUrl needs of `window`, so tests can pass a fake. */
export interface UrlWindow {
  location: { pathname: string; search: string; hash: string };
  history: { replaceState(data: unknown, unused: string, url: string): void };
}

/** Writes the config to the URL with replaceState, only when the query string changes. */
export function syncUrl(config: ShareableConfig, win: UrlWindow): boolean {
  const search = serializeUrlConfig(config);
  if (search === win.location.search) return false;
  win.history.replaceState(null, '', `${win.location.pathname}${search}${win.location.hash}`);
  return true;
}
