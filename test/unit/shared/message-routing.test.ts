import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { type JSONRPCMessage, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { routeMessagesByShape } from '../../../src/shared/message-routing.js';

const closers: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

function newServer(): Server {
  const server = new Server({ name: 'routed', version: '1' }, { capabilities: { tools: {} } });
  server.setRequestHandler(ListToolsRequestSchema, () => ({
    tools: [{ name: 'echo', inputSchema: { type: 'object' } }],
  }));
  closers.push(() => server.close());
  return server;
}

describe('routeMessagesByShape', () => {
  it("routes requests, notifications and responses both ways, as the SDK's wrapper did", async () => {
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    const server = newServer();
    let initialized = false;
    server.oninitialized = () => {
      initialized = true;
    };
    await server.connect(serverSide);
    // An SDK release that renames the Protocol's routing methods fails here.
    expect(routeMessagesByShape(server, serverSide)).toBe(true);
    const client = new Client({ name: 'c', version: '1' });
    closers.push(() => client.close());
    await client.connect(clientSide);
    expect(routeMessagesByShape(client, clientSide)).toBe(true);

    expect((await client.listTools()).tools.map((tool) => tool.name)).toEqual(['echo']);
    expect(await client.ping()).toEqual({});
    // Server to client: a request, and the client's response routed back to the server.
    expect(await server.ping()).toEqual({});
    await expect.poll(() => initialized).toBe(true);
    await expect(client.request({ method: 'no/such' }, ListToolsRequestSchema)).rejects.toThrow(
      /Method not found/,
    );
  });

  it("bypasses the SDK's type guards: a request they refuse as unknown is answered", async () => {
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    const server = newServer();
    const errors: Error[] = [];
    server.onerror = (error) => errors.push(error);
    await server.connect(serverSide);
    const replies: JSONRPCMessage[] = [];
    clientSide.onmessage = (message) => replies.push(message);
    await clientSide.start();
    // The SDK's request schema is strict: an extra member made its wrapper report "Unknown message
    // type" and answer nothing, so the client waited until its own timeout.
    const extraMember = { jsonrpc: '2.0', id: 1, method: 'tools/list', note: 'extra' } as JSONRPCMessage;
    await clientSide.send(extraMember);
    await expect.poll(() => errors.length).toBe(1);
    expect(replies).toEqual([]);

    expect(routeMessagesByShape(server, serverSide)).toBe(true);
    await clientSide.send({ ...extraMember, id: 2 } as JSONRPCMessage);
    await expect.poll(() => replies.length).toBe(1);
    expect(replies[0]).toMatchObject({ id: 2, result: { tools: [{ name: 'echo' }] } });
    expect(errors).toHaveLength(1);
  });

  it('changes nothing for a transport the protocol is not connected to, or a protocol without the methods', async () => {
    const [, serverSide] = InMemoryTransport.createLinkedPair();
    const server = newServer();
    const [, other] = InMemoryTransport.createLinkedPair();
    await server.connect(serverSide);
    const wrapper = serverSide.onmessage;
    expect(routeMessagesByShape(server, other)).toBe(false);
    expect(other.onmessage).toBeUndefined();

    const renamed = { transport: serverSide } as unknown as Parameters<typeof routeMessagesByShape>[0];
    expect(routeMessagesByShape(renamed, serverSide)).toBe(false);
    expect(serverSide.onmessage).toBe(wrapper);
  });
});
