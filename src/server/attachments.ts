/**
 * What a client receives for each file a program attached (`mcp.runtime.attach`). The program is
 * untrusted and clients render what they receive, so the declared MIME type decides nothing alone:
 * only raster images whose bytes begin as their type's do (PNG, JPEG, GIF, WebP) go as image content.
 * Every other file goes as an embedded resource: under its declared type when that type is passive
 * data (plain text, CSV, TSV, JSON), else as `application/octet-stream`, the declared type kept in the
 * resource's `_meta`. So SVG (which can carry scripts), HTML, XHTML, XML, JavaScript, PDF, Markdown
 * and whatever claims to be an image but is not never reach a client as something it would render.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Attachment } from '../engine/run-record.js';

/** The key of `_meta` that holds the type the program declared, when the resource is sent as another. */
export const DECLARED_TYPE_META = 'codemode-bridge/declaredMimeType';

const OPAQUE_TYPE = 'application/octet-stream';

/** Raster image types, each with a test of its file signature. */
const RASTER_SIGNATURES: Readonly<Record<string, (head: Buffer) => boolean>> = {
  'image/png': (head) =>
    head.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])),
  'image/jpeg': (head) => head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff,
  'image/gif': (head) => ['GIF87a', 'GIF89a'].includes(head.subarray(0, 6).toString('latin1')),
  'image/webp': (head) =>
    head.subarray(0, 4).toString('latin1') === 'RIFF' && head.subarray(8, 12).toString('latin1') === 'WEBP',
};

/** Types sent as declared: data no client executes or renders as a page. */
const PASSIVE_TYPES: ReadonlySet<string> = new Set([
  'text/plain',
  'text/csv',
  'text/tab-separated-values',
  'application/json',
  OPAQUE_TYPE,
]);

type Content = CallToolResult['content'][number];

/** The content blocks for a run's attachments, in order. */
export function attachmentContent(attachments: readonly Attachment[]): Content[] {
  return attachments.map((file, index) => contentFor(file, index + 1));
}

function contentFor(file: Attachment, position: number): Content {
  const { mimeType, data, name } = file;
  // The first 12 bytes are all a signature needs: 16 base64 characters.
  if (RASTER_SIGNATURES[mimeType]?.(Buffer.from(data.slice(0, 16), 'base64'))) {
    return { type: 'image', data, mimeType };
  }
  const passive = PASSIVE_TYPES.has(mimeType);
  return {
    type: 'resource',
    resource: {
      uri: `codemode://attachments/${position}/${encodeURIComponent(name ?? 'file')}`,
      mimeType: passive ? mimeType : OPAQUE_TYPE,
      blob: data,
      ...(passive ? {} : { _meta: { [DECLARED_TYPE_META]: mimeType } }),
    },
  };
}
