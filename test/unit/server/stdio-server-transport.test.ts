/** The bridge's stdio transport over in-memory streams: framing, refusals answered for their id, closing. */
import { PassThrough } from 'node:stream';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it, vi } from 'vitest';
import { BridgeStdioTransport } from '../../../src/server/stdio-server-transport.js';

async function started(maxMessageBytes?: number) {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const transport = new BridgeStdioTransport(stdin, stdout, maxMessageBytes);
  const received: JSONRPCMessage[] = [];
  const errors: string[] = [];
  const sent: unknown[] = [];
  let buffered = '';
  stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    for (let newline = buffered.indexOf('\n'); newline !== -1; newline = buffered.indexOf('\n')) {
      sent.push(JSON.parse(buffered.slice(0, newline)));
      buffered = buffered.slice(newline + 1);
    }
  });
  transport.onmessage = (message) => received.push(message);
  transport.onerror = (error) => errors.push(error.message);
  await transport.start();
  return { stdin, transport, received, errors, sent };
}

describe('BridgeStdioTransport', () => {
  it('delivers each line as a message, whatever the chunks, CRLF and blank lines included', async () => {
    const { stdin, received, errors } = await started();
    stdin.write('{"jsonrpc":"2.0","id":1,"me');
    stdin.write('thod":"ping"}\r\n\n{"jsonrpc":"2.0","method":"notifications/initialized"}\n');
    await vi.waitFor(() => expect(received).toHaveLength(2));
    expect(received).toEqual([
      { jsonrpc: '2.0', id: 1, method: 'ping' },
      { jsonrpc: '2.0', method: 'notifications/initialized' },
    ]);
    expect(errors).toEqual([]);
  });

  it('notes the protocol version its initialize answer settled on', async () => {
    const { transport } = await started();
    expect(transport.protocolVersion).toBeUndefined();
    await transport.send({ jsonrpc: '2.0', id: 1, result: { tools: [] } });
    expect(transport.protocolVersion).toBeUndefined();
    await transport.send({
      jsonrpc: '2.0',
      id: 0,
      result: { protocolVersion: '2025-06-18', capabilities: {}, serverInfo: { name: 's', version: '1' } },
    });
    expect(transport.protocolVersion).toBe('2025-06-18');
  });

  it('answers a request with a malformed envelope with an error for its id, and goes on', async () => {
    const { stdin, received, errors, sent } = await started();
    stdin.write('{"jsonrpc":"2.0","id":3,"method":"tools/list","note":"extra"}\n');
    stdin.write('{"jsonrpc":"2.0","method":"notifications/x","params":[]}\n');
    stdin.write('not json\n{"jsonrpc":"2.0","id":4,"method":"ping"}\n');
    await vi.waitFor(() => expect(received).toHaveLength(1));
    expect(received).toEqual([{ jsonrpc: '2.0', id: 4, method: 'ping' }]);
    expect(sent).toEqual([
      {
        jsonrpc: '2.0',
        id: 3,
        error: {
          code: -32600,
          message: 'Invalid request: not a JSON-RPC message: it has a member "note".',
        },
      },
    ]);
    expect(errors).toEqual([
      'the client sent a message that is not JSON-RPC: not a JSON-RPC message: it has a member "note"',
      'the client sent a message that is not JSON-RPC: not a JSON-RPC request: "params" is an array; MCP takes an object',
      expect.stringMatching(/^the client sent a message that is not JSON-RPC: Unexpected token/),
    ]);
  });

  it('answers a request over the size cap with an error for its id', async () => {
    const { stdin, received, errors, sent } = await started(1024);
    stdin.write(`{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"code":"${'x'.repeat(4096)}"}}\n`);
    await vi.waitFor(() => expect(sent).toHaveLength(1));
    expect(sent[0]).toMatchObject({ id: 5, error: { code: -32600 } });
    expect(received).toEqual([]);
    expect(errors).toHaveLength(1);
  });

  it('closes when stdin ends, and refuses to send after', async () => {
    const { stdin, transport } = await started();
    const closed = new Promise<void>((resolve) => {
      transport.onclose = resolve;
    });
    stdin.end();
    await closed;
    await expect(transport.send({ jsonrpc: '2.0', method: 'ping', id: 1 })).rejects.toThrow(
      'the client is gone',
    );
  });
});
