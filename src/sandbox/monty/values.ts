/**
 * Python values ↔ JSON, as the container runtime converts them (`json.dumps(..., allow_nan=False)`
 * out, `json.loads` in), so a tool sees the same arguments and a program the same results on either
 * sandbox. Pure and bounded: depth is checked both ways.
 */

import { MAX_VALUE_DEPTH, type MontyValue } from './messages.js';
import { floatRepr } from './python-repr.js';

/** A value Python's `json.dumps` refuses, with its error: `TypeError: Object of type set is not JSON serializable`. */
export class NotJson extends Error {
  override readonly name = 'NotJson';
  constructor(
    readonly pythonType: 'TypeError' | 'ValueError',
    message: string,
  ) {
    super(message);
  }
}

const TYPE_NAMES: Partial<Record<MontyValue['kind'], string>> = {
  set: 'set',
  frozenset: 'frozenset',
  bytes: 'bytes',
  ellipsis: 'ellipsis',
  function: 'function',
};

/** `json.dumps` of a Python value, as a JS value. Throws `NotJson` where Python would raise. */
export function toJson(value: MontyValue, depth = 0): unknown {
  if (depth > MAX_VALUE_DEPTH) throw new NotJson('ValueError', 'Circular reference detected');
  switch (value.kind) {
    case 'none':
      return null;
    case 'bool':
      return value.value;
    case 'int':
      // As the container's frames carry it: JSON text, read back by JS as a double.
      return Number(value.value);
    case 'float':
      if (!Number.isFinite(value.value))
        throw new NotJson('ValueError', 'Out of range float values are not JSON compliant');
      return value.value;
    case 'str':
      return value.value;
    case 'list':
    case 'tuple':
      return value.items.map((item) => toJson(item, depth + 1));
    case 'named_tuple':
      return value.values.map((item) => toJson(item, depth + 1));
    case 'dict': {
      const object: Record<string, unknown> = {};
      for (const [key, item] of value.pairs) {
        Object.defineProperty(object, jsonKey(key), {
          value: toJson(item, depth + 1),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return object;
    }
    default: {
      const type =
        value.kind === 'opaque'
          ? value.typeName
          : value.kind === 'instance'
            ? value.className
            : (TYPE_NAMES[value.kind] ?? value.kind);
      throw new NotJson('TypeError', `Object of type ${type} is not JSON serializable`);
    }
  }
}

/** How `json.dumps` turns a dict key into a string. */
function jsonKey(key: MontyValue): string {
  switch (key.kind) {
    case 'str':
      return key.value;
    case 'int':
      return key.value.toString();
    case 'float':
      if (!Number.isFinite(key.value))
        throw new NotJson('ValueError', 'Out of range float values are not JSON compliant');
      return floatRepr(key.value);
    case 'bool':
      return key.value ? 'true' : 'false';
    case 'none':
      return 'null';
    default:
      throw new NotJson(
        'TypeError',
        `keys must be str, int, float, bool or None, not ${key.kind === 'opaque' ? key.typeName : key.kind}`,
      );
  }
}

/**
 * A JSON value as `json.loads` gives it to Python: numbers that JSON would write without a fraction
 * or exponent are ints (as `JSON.stringify` then `json.loads` makes them), the rest floats.
 */
export function fromJson(value: unknown, depth = 0): MontyValue {
  if (depth > MAX_VALUE_DEPTH)
    throw new NotJson('ValueError', `a value nested deeper than ${MAX_VALUE_DEPTH} levels`);
  if (value === null || value === undefined) return { kind: 'none' };
  if (typeof value === 'boolean') return { kind: 'bool', value };
  if (typeof value === 'number') {
    if (Number.isInteger(value) && Math.abs(value) < 1e21) return { kind: 'int', value: BigInt(value) };
    return Number.isFinite(value) ? { kind: 'float', value } : { kind: 'none' };
  }
  if (typeof value === 'bigint') return { kind: 'int', value };
  if (typeof value === 'string') return { kind: 'str', value };
  if (Array.isArray(value)) return { kind: 'list', items: value.map((item) => fromJson(item, depth + 1)) };
  if (typeof value === 'object') {
    return {
      kind: 'dict',
      pairs: Object.entries(value as Record<string, unknown>).map(([key, item]) => [
        { kind: 'str', value: key },
        fromJson(item, depth + 1),
      ]),
    };
  }
  return { kind: 'str', value: String(value) };
}

export const str = (value: string): MontyValue => ({ kind: 'str', value });
export const NONE: MontyValue = { kind: 'none' };
export const tuple = (items: MontyValue[]): MontyValue => ({ kind: 'tuple', items });
