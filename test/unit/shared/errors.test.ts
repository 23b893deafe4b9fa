import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { ProtocolError, upstreamErrorMessage } from '../../../src/shared/errors.js';

describe('ProtocolError', () => {
  it('is an McpError whose message is the bare text, so the client prefixes it once', () => {
    const error = new ProtocolError(-32002, 'Resource codemode://servers/x not found', {
      uri: 'codemode://servers/x',
    });
    expect(error).toBeInstanceOf(McpError);
    expect(error.code).toBe(-32002);
    expect(error.data).toEqual({ uri: 'codemode://servers/x' });
    expect(error.message).toBe('Resource codemode://servers/x not found');
    // What the SDK's client builds from the wire message.
    expect(new McpError(error.code, error.message).message).toBe(
      'MCP error -32002: Resource codemode://servers/x not found',
    );
  });
});

describe('upstreamErrorMessage', () => {
  it('keeps one prefix of an upstream error however often it was written', () => {
    const twice = new McpError(-32603, new McpError(-32603, 'cannot authenticate').message);
    expect(upstreamErrorMessage(twice)).toBe('MCP error -32603: cannot authenticate');
    expect(upstreamErrorMessage(new McpError(-32603, 'once'))).toBe('MCP error -32603: once');
    expect(upstreamErrorMessage(new Error('plain'))).toBe('plain');
    expect(upstreamErrorMessage('MCP error -1: MCP error -2: MCP error -3: x')).toBe('MCP error -1: x');
  });
});
