import { describe, expect, it } from 'vitest';
import { createLogger, formatLogLine } from '../../../src/shared/logger.js';

describe('formatLogLine', () => {
  it('writes one levelled line with key=value fields, quoting what needs it', () => {
    const line = formatLogLine(
      'warn',
      'upstream failed',
      { server: 'my.server', error: new Error('no "way"'), n: 3 },
      new Date(0),
    );
    expect(line).toBe(
      'codemode-bridge 1970-01-01T00:00:00.000Z WARN  upstream failed server=my.server error="no \\"way\\"" n=3\n',
    );
  });
});

describe('createLogger', () => {
  it('drops lines below its level and feeds sinks from their own level up', () => {
    const lines: string[] = [];
    const logger = createLogger('warn', (line) => lines.push(line));
    const seen: string[] = [];
    const detach = logger.addSink('error', (level, message) => seen.push(`${level}:${message}`));
    logger.info('quiet');
    logger.warn('loud');
    logger.error('louder');
    detach();
    logger.error('after detach');
    expect(lines.map((line) => line.split(' ').slice(2).join(' ').trim())).toEqual([
      'WARN  loud',
      'ERROR louder',
      'ERROR after detach',
    ]);
    expect(seen).toEqual(['error:louder']);
  });

  it('survives a sink that throws', () => {
    const logger = createLogger('error', () => {});
    logger.addSink('error', () => {
      throw new Error('client gone');
    });
    expect(() => logger.error('still fine')).not.toThrow();
  });
});
