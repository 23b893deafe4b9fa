/**
 * JSON Schema → TypeScript type text (pure). Covers what MCP servers write (drafts 4 to 2020-12):
 * `type` (and lists of types), `enum`, `const`, `oneOf`/`anyOf` (unions), `allOf` (intersections),
 * `properties`/`required`, `additionalProperties`, `items` (arrays and draft-7 tuples), `prefixItems`,
 * OpenAPI's `nullable`, and local `$ref`s (`#`, `#/$defs/X`, `#/definitions/X`, any JSON pointer),
 * which become named type aliases so recursion and sharing cost one line each. Anything else is
 * `unknown`: a type that is too loose fails no program, one that is wrong does.
 *
 * Objects without `additionalProperties` get no index signature, so a misspelt argument is a type error
 * (the point of typing the arguments) even though JSON Schema would allow it.
 */
import { docComment, literalType, propertyKey, typeName } from './ts-syntax.js';

type Schema = Record<string, unknown>;

/** Inline nesting beyond which a schema is `unknown` (named `$ref`s restart the count). */
const MAX_INLINE_DEPTH = 24;

/** Thrown when a rendering passes its character budget; the caller degrades what it was rendering. */
export class TypeBudgetExceeded extends Error {
  override readonly name = 'TypeBudgetExceeded';
}

/** Named types (from `$ref`s) a rendering produced, in the order first referenced. */
export interface NamedType {
  name: string;
  /** The `$ref`'s own description (or its target's), for the alias's doc comment. */
  description?: string;
  type: string;
}

export interface RenderContextOptions {
  /** Names already taken in the namespace the named types will live in. */
  taken: Set<string>;
  /** The namespace those names are reached through, e.g. `mcp_memory` (`mcp_memory.Entity`). */
  namespace: string;
  /** Characters this rendering may produce, named types included. */
  budgetChars: number;
}

function isSchema(value: unknown): value is Schema {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Resolves a local JSON pointer (`#/$defs/Node`) against `root`; undefined when it leads nowhere. */
function resolvePointer(root: Schema, ref: string): Schema | boolean | undefined {
  if (ref === '#') return root;
  if (!ref.startsWith('#/')) return undefined;
  let node: unknown = root;
  for (const raw of ref.slice(2).split('/')) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, key)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return isSchema(node) || typeof node === 'boolean' ? node : undefined;
}

function union(parts: readonly string[]): string {
  const unique = [...new Set(parts)];
  if (unique.includes('unknown')) return 'unknown';
  if (unique.length === 0) return 'never';
  return unique.length === 1 ? (unique[0] as string) : unique.map(parenthesize).join(' | ');
}

function intersection(parts: readonly string[]): string {
  const unique = [...new Set(parts)].filter((part) => part !== 'unknown');
  if (unique.length === 0) return 'unknown';
  return unique.length === 1 ? (unique[0] as string) : unique.map(parenthesize).join(' & ');
}

/** Wraps a union or intersection so it can stand inside another type (`(A | B)[]`). */
function parenthesize(type: string): string {
  let depth = 0;
  let quote: string | undefined;
  for (let i = 0; i < type.length; i++) {
    const char = type[i];
    if (quote) {
      if (char === '\\') i++;
      else if (char === quote) quote = undefined;
    } else if (char === '"' || char === "'") quote = char;
    else if (char === '{' || char === '[' || char === '(' || char === '<') depth++;
    else if (char === '}' || char === ']' || char === ')' || char === '>') depth--;
    else if (depth === 0 && (char === '|' || char === '&')) return `(${type})`;
  }
  return type;
}

/**
 * Renders the types of one JSON Schema document (a tool's input or output schema): `$ref`s are
 * resolved against `root` and become named types, collected in `named`.
 */
export class SchemaRenderer {
  readonly named: NamedType[] = [];
  readonly #taken: Set<string>;
  readonly #namespace: string;
  #budget: number;
  /** Per document: pointer → the name given to it. */
  readonly #refs = new Map<Schema, Map<string, string>>();

  constructor(options: RenderContextOptions) {
    this.#taken = options.taken;
    this.#namespace = options.namespace;
    this.#budget = options.budgetChars;
  }

  /**
   * The type of `schema`, a document of its own (its `$ref`s resolve against it); `rootName` names
   * the document itself when it refers to itself (`$ref: "#"`).
   */
  render(schema: unknown, indent: string, rootName: string): string {
    const root = isSchema(schema) ? schema : {};
    return this.#type(schema, root, indent, 0, rootName);
  }

  /**
   * Counts characters as they are produced (members, enum unions), so a huge schema stops the
   * rendering as soon as it is over budget rather than after building the whole text.
   */
  #spend(text: string): string {
    this.#budget -= text.length;
    if (this.#budget < 0) throw new TypeBudgetExceeded();
    return text;
  }

  #type(schema: unknown, root: Schema, indent: string, depth: number, rootName: string): string {
    if (schema === true || schema === undefined) return 'unknown';
    if (schema === false) return 'never';
    if (!isSchema(schema) || depth > MAX_INLINE_DEPTH) return 'unknown';
    const parts: string[] = [];
    if (typeof schema.$ref === 'string') parts.push(this.#ref(schema.$ref, root, rootName));
    const base = this.#base(schema, root, indent, depth, rootName);
    if (base !== undefined) parts.push(base);
    if (Array.isArray(schema.allOf)) {
      parts.push(
        intersection(schema.allOf.map((member) => this.#type(member, root, indent, depth + 1, rootName))),
      );
    }
    for (const key of ['anyOf', 'oneOf'] as const) {
      const members = schema[key];
      if (Array.isArray(members) && members.length > 0) {
        parts.push(union(members.map((member) => this.#type(member, root, indent, depth + 1, rootName))));
      }
    }
    let type = intersection(parts);
    if (schema.nullable === true && type !== 'unknown') type = union([type, 'null']);
    return type;
  }

  /** The type `const`, `enum` or `type` (with its keywords) give, or undefined when none is there. */
  #base(schema: Schema, root: Schema, indent: string, depth: number, rootName: string): string | undefined {
    if (Object.hasOwn(schema, 'const')) return literalType(schema.const) ?? 'unknown';
    if (Array.isArray(schema.enum)) {
      const literals = schema.enum.map(literalType);
      if (!literals.every((literal) => literal !== undefined)) return 'unknown';
      return this.#spend(union(literals as string[]));
    }
    const declared = Array.isArray(schema.type) ? schema.type : [schema.type];
    const types = declared.filter((type): type is string => typeof type === 'string');
    if (types.length === 0) {
      if (isSchema(schema.properties) || schema.additionalProperties !== undefined) {
        return this.#object(schema, root, indent, depth, rootName);
      }
      if (schema.items !== undefined || schema.prefixItems !== undefined) {
        return this.#array(schema, root, indent, depth, rootName);
      }
      return undefined;
    }
    return union(
      types.map((type) => {
        switch (type) {
          case 'string':
            return 'string';
          case 'number':
          case 'integer':
            return 'number';
          case 'boolean':
            return 'boolean';
          case 'null':
            return 'null';
          case 'array':
            return this.#array(schema, root, indent, depth, rootName);
          case 'object':
            return this.#object(schema, root, indent, depth, rootName);
          default:
            return 'unknown';
        }
      }),
    );
  }

  #array(schema: Schema, root: Schema, indent: string, depth: number, rootName: string): string {
    // 2020-12 tuples: prefixItems, then `items` for the rest; drafts 4–7: an `items` list, then
    // `additionalItems`.
    const tuple = Array.isArray(schema.prefixItems)
      ? schema.prefixItems
      : Array.isArray(schema.items)
        ? schema.items
        : undefined;
    if (tuple) {
      const rest = Array.isArray(schema.prefixItems) ? schema.items : schema.additionalItems;
      const minItems = typeof schema.minItems === 'number' ? schema.minItems : 0;
      const elements = tuple.map((member, index) => {
        const type = this.#type(member, root, indent, depth + 1, rootName);
        return index < minItems ? type : `${parenthesize(type)}?`;
      });
      if (rest !== false && tuple.length < 64) {
        elements.push(`...${parenthesize(this.#type(rest ?? true, root, indent, depth + 1, rootName))}[]`);
      }
      return `[${elements.join(', ')}]`;
    }
    const item = this.#type(schema.items ?? true, root, indent, depth + 1, rootName);
    return `${parenthesize(item)}[]`;
  }

  #object(schema: Schema, root: Schema, indent: string, depth: number, rootName: string): string {
    const properties = isSchema(schema.properties) ? schema.properties : {};
    const required = new Set(
      Array.isArray(schema.required) ? schema.required.filter((key) => typeof key === 'string') : [],
    );
    const names = Object.keys(properties);
    const extra = schema.additionalProperties;
    const patterns = isSchema(schema.patternProperties) && Object.keys(schema.patternProperties).length > 0;
    if (names.length === 0) {
      if (extra === false && !patterns) return '{}';
      const value =
        patterns || extra === undefined ? 'unknown' : this.#type(extra, root, indent, depth + 1, rootName);
      return `{ [key: string]: ${value} }`;
    }
    const inner = `${indent}  `;
    const lines: string[] = [];
    for (const name of names) {
      const property = properties[name];
      const doc = isSchema(property) ? propertyDoc(property) : [];
      const type = this.#type(property, root, inner, depth + 1, rootName);
      const head = this.#spend(
        `${docComment(doc, inner)}${inner}${propertyKey(name)}${required.has(name) ? '' : '?'}: `,
      );
      lines.push(`${head}${type};`);
    }
    // Declared properties must fit an index signature, so extra keys beside them are only `unknown`.
    if ((extra !== undefined && extra !== false) || patterns) lines.push(`${inner}[key: string]: unknown;`);
    return `{\n${lines.join('\n')}\n${indent}}`;
  }

  #ref(ref: string, root: Schema, rootName: string): string {
    const target = resolvePointer(root, ref);
    if (target === undefined) return 'unknown';
    let names = this.#refs.get(root);
    if (!names) {
      names = new Map();
      this.#refs.set(root, names);
    }
    const known = names.get(ref);
    if (known) return `${this.#namespace}.${known}`;
    const name = this.#claim(ref === '#' ? rootName : typeName(ref.slice(ref.lastIndexOf('/') + 1)));
    names.set(ref, name);
    // Reserved before rendering, so a reference to itself inside the target finds the name.
    const entry: NamedType = { name, type: 'unknown' };
    this.named.push(entry);
    entry.type = this.#type(target, root, '  ', 0, rootName);
    const description = isSchema(target) && typeof target.description === 'string' ? target.description : '';
    if (description) entry.description = description;
    return `${this.#namespace}.${name}`;
  }

  #claim(wanted: string): string {
    let name = wanted;
    for (let n = 2; this.#taken.has(name); n++) name = `${wanted}_${n}`;
    this.#taken.add(name);
    return name;
  }
}

/** The doc lines of a property: its description, default, format and deprecation. */
function propertyDoc(schema: Schema): string[] {
  const lines: string[] = [];
  if (typeof schema.description === 'string') lines.push(schema.description);
  else if (typeof schema.title === 'string') lines.push(schema.title);
  if (typeof schema.format === 'string') lines.push(`Format: ${schema.format}`);
  if (Object.hasOwn(schema, 'default')) {
    const text = JSON.stringify(schema.default);
    if (text !== undefined && text.length <= 200) lines.push(`@default ${text}`);
  }
  if (schema.deprecated === true) lines.push('@deprecated');
  return lines;
}
