/**
 * The bridge's real MCP server (`createBridgeServer`) and the SDK's real `Client`, linked by the
 * SDK's in-memory transport: the MCP surface tested in-process, over an engine the test builds
 * (test/helpers/scripted-engine.ts). Both ends close when the test finishes.
 */

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  type CallToolResult,
  type ElicitRequest,
  ElicitRequestSchema,
  type ElicitResult,
} from '@modelcontextprotocol/sdk/types.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import type { JsonSchemaType } from '@modelcontextprotocol/sdk/validation/types.js';
import { expect, onTestFinished } from 'vitest';
import { z } from 'zod';
import type { Engine } from '../../src/engine/engine.js';
import { runPythonOutput } from '../../src/server/run-python-tool.js';
import { type BridgeServerOptions, createBridgeServer } from '../../src/server/server.js';
import { createLogger } from '../../src/shared/logger.js';

export interface InMemoryBridgeOptions extends Partial<Omit<BridgeServerOptions, 'engine'>> {
  /** Answers the server's approval prompts; the client declares form elicitation only when given. */
  elicit?: (request: ElicitRequest['params']) => ElicitResult | Promise<ElicitResult>;
}

export interface InMemoryBridge {
  client: Client;
  server: McpServer;
  /**
   * Calls `run_python` and checks its `structuredContent` against the output schema tools/list
   * advertises (what a client validating results does), then returns the result.
   */
  run(args: Record<string, unknown>, options?: Parameters<Client['callTool']>[2]): Promise<CallToolResult>;
}

export async function connectInMemory(
  engine: Engine,
  options: InMemoryBridgeOptions = {},
): Promise<InMemoryBridge> {
  const { elicit, ...serverOptions } = options;
  const server = createBridgeServer({
    engine,
    version: '0.0.0-test',
    outputMode: 'text',
    yieldAfterMs: 0,
    maxOutputChars: 1000,
    logger: createLogger('error', () => {}),
    ...serverOptions,
  });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client(
    { name: 'in-memory-test', version: '0' },
    elicit ? { capabilities: { elicitation: { form: {} } } } : {},
  );
  if (elicit) client.setRequestHandler(ElicitRequestSchema, (request) => elicit(request.params));
  await client.connect(clientSide);
  onTestFinished(async () => {
    await client.close();
    await server.close();
  });

  const { tools } = await client.listTools();
  const outputSchema = tools[0]?.outputSchema;
  if (!outputSchema) throw new Error('run_python lists no output schema');
  const validate = new AjvJsonSchemaValidator().getValidator(outputSchema as JsonSchemaType);
  return {
    client,
    server,
    async run(args, requestOptions) {
      const result = (await client.callTool(
        { name: 'run_python', arguments: args },
        undefined,
        requestOptions,
      )) as CallToolResult;
      if (result.structuredContent !== undefined) {
        const verdict = validate(result.structuredContent);
        expect(verdict.errorMessage, JSON.stringify(result.structuredContent)).toBeUndefined();
        expect(verdict.valid).toBe(true);
        // The listed schema allows extra members, so it cannot tell a field it forgot: the full
        // schema (nested members too) can.
        const strict = z.strictObject(runPythonOutput).safeParse(result.structuredContent);
        expect(strict.error?.issues, JSON.stringify(result.structuredContent)).toBeUndefined();
      }
      return result;
    },
  };
}

/** The text of a result's text parts, joined. */
export function textOf(result: CallToolResult): string {
  return result.content
    .map((part) => (part.type === 'text' ? part.text : ''))
    .filter(Boolean)
    .join('\n');
}
