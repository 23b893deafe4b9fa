import { groupDigits } from '../shared/digits.js';

/**
 * Captured output with a hard bound: the first half of the budget keeps the head, the second half a
 * rolling tail, and the middle is counted, not kept. A 100 MB flood costs `limit` characters.
 */
export class OutputBuffer {
  readonly #headLimit: number;
  readonly #tailLimit: number;
  #head = '';
  #tail = '';
  #total = 0;

  constructor(limitChars: number) {
    this.#headLimit = Math.ceil(limitChars / 2);
    this.#tailLimit = Math.floor(limitChars / 2);
  }

  append(data: string): void {
    this.#total += data.length;
    let rest = data;
    if (this.#head.length < this.#headLimit) {
      const room = this.#headLimit - this.#head.length;
      this.#head += rest.slice(0, room);
      rest = rest.slice(room);
    }
    if (rest.length > 0 && this.#tailLimit > 0) {
      this.#tail =
        rest.length >= this.#tailLimit
          ? rest.slice(-this.#tailLimit)
          : (this.#tail + rest).slice(-this.#tailLimit);
    }
  }

  /** Characters received but not kept. */
  get elidedChars(): number {
    return this.#total - this.#head.length - this.#tail.length;
  }

  get totalChars(): number {
    return this.#total;
  }

  text(): string {
    const elided = this.elidedChars;
    if (elided === 0) return this.#head + this.#tail;
    return `${this.#head}\n… [${groupDigits(elided)} characters elided] …\n${this.#tail}`;
  }
}
