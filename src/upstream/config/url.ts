/** Returns why `value` is not a usable `http:`/`https:` URL, or `undefined` when it is one. */
export function describeUrlProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `url ${JSON.stringify(value)} is not a valid URL`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return `url ${JSON.stringify(value)} must use http: or https:, not ${url.protocol}`;
  }
  return undefined;
}
