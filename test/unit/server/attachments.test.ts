/** What the client receives for attached files: image content only for raster images that are what they claim. */
import { describe, expect, it } from 'vitest';
import { attachmentContent, DECLARED_TYPE_META } from '../../../src/server/attachments.js';

const b64 = (bytes: Buffer | string) => Buffer.from(bytes).toString('base64');
const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(8)]);
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0, 0, 0]);
const GIF = Buffer.from('GIF89a\x01\x00\x01\x00', 'latin1');
const WEBP = Buffer.from('RIFF\x24\x00\x00\x00WEBPVP8 ', 'latin1');
const SVG = '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>';

describe('attachmentContent', () => {
  it('sends PNG, JPEG, GIF and WebP as image content when their bytes say so', () => {
    const files = [
      { mimeType: 'image/png', data: b64(PNG) },
      { mimeType: 'image/jpeg', data: b64(JPEG) },
      { mimeType: 'image/gif', data: b64(GIF) },
      { mimeType: 'image/webp', data: b64(WEBP) },
    ];
    expect(attachmentContent(files)).toEqual(files.map((file) => ({ type: 'image', ...file })));
  });

  it.each([
    ['an SVG with a script', 'image/svg+xml', SVG],
    ['HTML', 'text/html', '<script>alert(1)</script>'],
    ['XHTML', 'application/xhtml+xml', '<html xmlns="http://www.w3.org/1999/xhtml"/>'],
    ['XML', 'application/xml', '<?xml version="1.0"?><x/>'],
    ['JavaScript', 'text/javascript', 'alert(1)'],
    ['Markdown', 'text/markdown', '![x](https://example.com/leak)'],
    ['a PNG that is really HTML', 'image/png', '<html><script>alert(1)</script></html>'],
    ['a JPEG that is really a PNG', 'image/jpeg', PNG],
    ['an image type nobody checks', 'image/bmp', 'BM'],
  ])('sends %s as an opaque resource, its declared type in _meta', (_what, mimeType, bytes) => {
    const data = b64(bytes);
    expect(attachmentContent([{ mimeType, data, name: 'f' }])).toEqual([
      {
        type: 'resource',
        resource: {
          uri: 'codemode://attachments/1/f',
          mimeType: 'application/octet-stream',
          blob: data,
          _meta: { [DECLARED_TYPE_META]: mimeType },
        },
      },
    ]);
  });

  it('sends passive data under its own type, named in the URI', () => {
    const csv = b64('a,b\n1,2\n');
    expect(attachmentContent([{ mimeType: 'text/csv', data: csv, name: 'a table/1.csv' }])).toEqual([
      {
        type: 'resource',
        resource: { uri: 'codemode://attachments/1/a%20table%2F1.csv', mimeType: 'text/csv', blob: csv },
      },
    ]);
  });
});
