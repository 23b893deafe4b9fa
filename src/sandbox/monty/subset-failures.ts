/**
 * Which run-time failures on Monty are the subset's, not the program's (pure): an exception CPython
 * would not raise for the same code. Used to explain the error when the run could not be given to
 * full Python, and to say how to get full Python.
 */
import type { RaisedException } from './messages.js';
import { MONTY_MODULES } from './subset.js';

/** CPython builtins, for telling Monty's NameError for one of them from a program's own typo. */
const CPYTHON_BUILTINS = new Set(
  (
    'abs aiter all anext any ascii bin bool breakpoint bytearray bytes callable chr classmethod compile complex ' +
    'delattr dict dir divmod enumerate eval exec filter float format frozenset getattr globals hasattr hash help ' +
    'hex id input int isinstance issubclass iter len list locals map max memoryview min next object oct open ord ' +
    'pow print property range repr reversed round set setattr slice sorted staticmethod str sum super tuple type ' +
    'vars zip __import__ NameError GeneratorExit'
  ).split(' '),
);
/** The public attributes of CPython 3.11's builtin types (`dir(T)`), to tell Monty's gaps from typos. */
const BUILTIN_ATTRIBUTES: Record<string, string> = {
  str: 'capitalize casefold center count encode endswith expandtabs find format format_map index isalnum isalpha isascii isdecimal isdigit isidentifier islower isnumeric isprintable isspace istitle isupper join ljust lower lstrip maketrans partition removeprefix removesuffix replace rfind rindex rjust rpartition rsplit rstrip split splitlines startswith strip swapcase title translate upper zfill',
  list: 'append clear copy count extend index insert pop remove reverse sort',
  dict: 'clear copy fromkeys get items keys pop popitem setdefault update values',
  set: 'add clear copy difference difference_update discard intersection intersection_update isdisjoint issubset issuperset pop remove symmetric_difference symmetric_difference_update union update',
  frozenset: 'copy difference intersection isdisjoint issubset issuperset symmetric_difference union',
  tuple: 'count index',
  int: 'as_integer_ratio bit_count bit_length conjugate denominator from_bytes imag numerator real to_bytes',
  float: 'as_integer_ratio conjugate fromhex hex imag is_integer real',
  bytes:
    'capitalize center count decode endswith expandtabs find fromhex hex index isalnum isalpha isascii isdigit islower isspace istitle isupper join ljust lower lstrip maketrans partition removeprefix removesuffix replace rfind rindex rjust rpartition rsplit rstrip split splitlines startswith strip swapcase title translate upper zfill',
  bool: 'as_integer_ratio bit_count bit_length conjugate denominator from_bytes imag numerator real to_bytes',
};

/** A sentence naming what Monty lacks, when `exception` is the subset's doing; undefined when it is the program's. */
export function subsetFailure(exception: RaisedException): string | undefined {
  const message = exception.message ?? '';
  switch (exception.type) {
    case 'NotImplementedError':
      return /monty|not implemented|not yet support/i.test(message)
        ? `Monty does not implement this: ${message}.`
        : undefined;
    case 'ModuleNotFoundError':
    case 'ImportError': {
      const module = /'([^']+)'/.exec(message)?.[1];
      return module && !MONTY_MODULES.has(module)
        ? `The module ${module} is not in Monty's standard library.`
        : undefined;
    }
    case 'NameError': {
      const name = /name '([^']+)'/.exec(message)?.[1];
      return name && CPYTHON_BUILTINS.has(name) ? `The builtin ${name} is not in Monty.` : undefined;
    }
    case 'AttributeError':
      return missingAttribute(message) ? `Monty's version lacks this attribute (${message}).` : undefined;
    case 'TypeError':
      return /argument is not supported|unsupported operand type\(s\) for %: 'str'/.test(message)
        ? `Monty does not support this (${message}).`
        : undefined;
    default:
      return undefined;
  }
}

/**
 * Whether an AttributeError names something CPython has: any attribute of a module (Monty's
 * modules are partial), or a public attribute CPython's builtin type has (`'dict' object has no
 * attribute 'get'`, a bound method Monty cannot take), not a typo (`'list' object … 'push'`).
 */
function missingAttribute(message: string): boolean {
  if (/^module '|^'_io\.TextIOWrapper' object/.test(message)) return true;
  const match = /^(?:'(\w+)' object|type object '(\w+)') has no attribute '(\w+)'/.exec(message);
  if (!match) return false;
  const type = match[1] ?? match[2] ?? '';
  return (BUILTIN_ATTRIBUTES[type] ?? '').split(' ').includes(match[3] ?? '');
}

/** How to get full Python, for an error on the tier. `static`: decided before the program ran. */
export function fullPythonHint(when: 'static' | 'runtime'): string {
  const lead = when === 'static' ? 'This program needs full Python' : 'This needs full Python';
  return (
    `${lead}, and this bridge runs every program on Monty, its instant subset of Python ` +
    '(MCP_BRIDGE_RUNTIME=monty). Set MCP_BRIDGE_RUNTIME=auto (Monty when a program fits, else a container or the ' +
    'embedded sandbox), podman, docker or embedded to run it.'
  );
}
