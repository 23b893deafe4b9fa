/**
 * One place turns an upstream `CallToolResult` into the value Python receives (docs/architecture.md,
 * "Upstream servers"): `structuredContent` if present; else a single text block, parsed as JSON when it is
 * JSON; else a list of the blocks. Binary content is described, not shipped: the model rarely needs the
 * bytes.
 */

export interface ContentBlockLike {
  type: string;
  text?: string;
  mimeType?: string;
  data?: string;
  uri?: string;
  name?: string;
  resource?: { uri?: string; mimeType?: string; text?: string; blob?: string };
}

export interface ToolResultLike {
  content?: ContentBlockLike[];
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
  toolResult?: unknown;
}

/** The result's text, for an error message. */
export function resultText(result: ToolResultLike): string {
  const texts = (result.content ?? [])
    .filter((block) => block.type === 'text')
    .map((block) => block.text ?? '');
  return texts.join('\n').trim();
}

function base64Bytes(data: string | undefined): number | undefined {
  if (data === undefined) return undefined;
  const padding = data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0;
  return Math.floor((data.length * 3) / 4) - padding;
}

function parseIfJson(text: string): unknown {
  const trimmed = text.trim();
  if (!/^[[{"]|^-?\d|^(true|false|null)$/.test(trimmed)) return text;
  try {
    return JSON.parse(trimmed);
  } catch {
    return text;
  }
}

function describeBlock(block: ContentBlockLike): unknown {
  switch (block.type) {
    case 'text':
      return block.text ?? '';
    case 'image':
    case 'audio':
      return { type: block.type, mimeType: block.mimeType, bytes: base64Bytes(block.data) };
    case 'resource': {
      const resource = block.resource ?? {};
      return {
        type: 'resource',
        uri: resource.uri,
        mimeType: resource.mimeType,
        ...(resource.text !== undefined ? { text: resource.text } : { bytes: base64Bytes(resource.blob) }),
      };
    }
    case 'resource_link':
      return { type: 'resource_link', uri: block.uri, name: block.name, mimeType: block.mimeType };
    default:
      return { type: block.type };
  }
}

/** The Python-facing value of a successful result. */
export function unwrapToolResult(result: ToolResultLike): unknown {
  if (result.structuredContent !== undefined && result.structuredContent !== null)
    return result.structuredContent;
  // Results in the pre-2025 `toolResult` shape.
  if (result.content === undefined && result.toolResult !== undefined) return result.toolResult;
  const content = result.content ?? [];
  if (content.length === 0) return null;
  const [only] = content;
  if (content.length === 1 && only?.type === 'text') return parseIfJson(only.text ?? '');
  return content.map(describeBlock);
}
