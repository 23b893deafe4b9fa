/** The console's sign-in page: one form asking for a token (static, or an OAuth access token). */
import type { ServerResponse } from 'node:http';

export function sendLoginPage(
  response: ServerResponse,
  prefix: string,
  options: { failed: boolean; oauthIssuer?: string | undefined },
): void {
  const label = options.oauthIssuer
    ? 'Access token (your token, or an OAuth access token for this bridge)'
    : 'Access token';
  response
    .writeHead(401, {
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
      'cache-control': 'no-store',
    })
    .end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>codemode-bridge — sign in</title>
<style>body{font:15px system-ui,sans-serif;margin:4rem auto;max-width:28rem}input{font:inherit;width:100%;padding:.4rem;box-sizing:border-box}button{margin-top:.6rem;font:inherit}</style></head>
<body><h1>codemode-bridge console</h1>${options.failed ? '<p role="alert">That token was not accepted.</p>' : ''}
<form method="post" action="${prefix}/login"><label>${label}<br><input type="password" name="token" autocomplete="current-password" autofocus></label><br><button type="submit">Sign in</button></form></body></html>`);
}
