/**
 * Every relative link in README.md and docs/ reaches a file of the repository and, when it names one,
 * a heading of that page (as GitHub derives heading anchors), so moving a section cannot silently
 * break the pages that point at it.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const PAGES = [
  'README.md',
  ...readdirSync(join(REPO, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];

/** The page without fenced blocks, whose `#` lines and brackets are code, not headings or links. */
function prose(markdown: string): string {
  return markdown.replace(/^(`{3,})[^\n]*\n[\s\S]*?^\1[ \t]*$/gm, '');
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/ /g, '-');
}

function anchorsOf(page: string): Set<string> {
  const text = prose(readFileSync(join(REPO, page), 'utf8'));
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((match) => anchorOf(match[1] ?? '')));
}

function linksOf(page: string): string[] {
  // Inline code (`[x](y)` in a code span is not a link).
  const text = prose(readFileSync(join(REPO, page), 'utf8')).replace(/(`+)[^`][\s\S]*?\1/g, '');
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((match) => match[1] ?? '')
    .filter((target) => !/^[a-z]+:/.test(target));
}

describe('links between the documentation pages', () => {
  it('derives anchors as GitHub does', () => {
    expect(anchorOf('Long runs: `yield_after` and `wait`')).toBe('long-runs-yield_after-and-wait');
    expect(anchorOf('Embedded sandbox (zero install)')).toBe('embedded-sandbox-zero-install');
  });

  it.each(PAGES)('%s links only to files and headings that exist', (page) => {
    const broken: string[] = [];
    for (const target of linksOf(page)) {
      const [path = '', anchor] = target.split('#');
      const file = path ? normalize(join(dirname(page), path)) : page;
      if (!existsSync(join(REPO, file))) broken.push(`${target}: no file ${file}`);
      else if (anchor && file.endsWith('.md') && !anchorsOf(file).has(anchor)) {
        broken.push(`${target}: no heading with anchor #${anchor} in ${file}`);
      }
    }
    expect(broken).toEqual([]);
  });
});
