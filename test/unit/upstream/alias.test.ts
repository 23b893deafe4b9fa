import { describe, expect, it } from 'vitest';
import { assignAliases, toPythonIdentifier } from '../../../src/upstream/config/alias.js';

describe('toPythonIdentifier', () => {
  it.each([
    ['get-sum', 'get_sum'],
    ['my.server', 'my_server'],
    ['already_fine', 'already_fine'],
    ['CamelCase', 'CamelCase'],
    ['a--b..c', 'a_b_c'],
    ['a__b', 'a_b'],
    ['@scope/pkg', 'scope_pkg'],
    ['trailing-', 'trailing'],
    ['1password', '_1password'],
    ['42', '_42'],
    ['class', 'class_'],
    ['None', 'None_'],
    ['import', 'import_'],
    ['match', 'match'],
    ['naïve-tool', 'na_ve_tool'],
    ['日本語', '_'],
    ['', '_'],
    ['---', '_'],
    ['my server (beta)', 'my_server_beta'],
  ])('%j → %j', (name, expected) => {
    expect(toPythonIdentifier(name)).toBe(expected);
  });
});

describe('assignAliases', () => {
  it('keeps natural aliases when they are unique', () => {
    expect([...assignAliases(['get-sum', 'my.server'])]).toEqual([
      ['get-sum', 'get_sum'],
      ['my.server', 'my_server'],
    ]);
  });

  it('gives the first in input order the plain alias and numbers later ones', () => {
    const aliases = assignAliases(['foo', 'foo-', 'foo.', 'Foo']);
    expect([...aliases]).toEqual([
      ['foo', 'foo'],
      ['foo-', 'foo_2'],
      ['foo.', 'foo_3'],
      ['Foo', 'Foo'],
    ]);
  });

  it('depends on input order only', () => {
    expect(assignAliases(['a-b', 'a.b']).get('a.b')).toBe('a_b_2');
    expect(assignAliases(['a.b', 'a-b']).get('a-b')).toBe('a_b_2');
  });

  it('never hands out a suffixed alias that another name has naturally', () => {
    const aliases = assignAliases(['foo', 'foo!', 'foo_2']);
    expect(aliases.get('foo')).toBe('foo');
    expect(aliases.get('foo_2')).toBe('foo_2');
    expect(aliases.get('foo!')).toBe('foo_3');
    expect(new Set(aliases.values()).size).toBe(3);
  });

  it('avoids reserved identifiers', () => {
    const aliases = assignAliases(['list-tools', 'x'], { reserved: ['list_tools', 'x_2'] });
    expect(aliases.get('list-tools')).toBe('list_tools_2');
    expect(aliases.get('x')).toBe('x');
  });

  it('handles keywords and empty names in collisions', () => {
    const aliases = assignAliases(['class', 'class_', '', '!!']);
    expect([...aliases.values()]).toEqual(['class_', 'class_2', '_', '_2']);
  });

  it('lists each distinct name once', () => {
    expect([...assignAliases(['a', 'a', 'b']).keys()]).toEqual(['a', 'b']);
  });
});
