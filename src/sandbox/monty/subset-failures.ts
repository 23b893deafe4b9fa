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
const BUILTIN_TYPES =
  /^'(?:str|bytes|int|float|list|dict|set|frozenset|tuple|bool|module|_io\.TextIOWrapper|type)' object|^type object '|^module '/;

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
      return BUILTIN_TYPES.test(message) ? `Monty's version lacks this attribute (${message}).` : undefined;
    case 'TypeError':
      return /not supported|unsupported operand type\(s\) for %: 'str'/.test(message)
        ? `Monty does not support this (${message}).`
        : undefined;
    default:
      return undefined;
  }
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
