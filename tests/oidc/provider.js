// A certified OpenID provider (panva's oidc-provider) for the tests, on loopback.
// Started by tests/oidc_provider.py with:
//   OIDC_HOST, OIDC_PORT  where it listens; its issuer is http://OIDC_HOST:OIDC_PORT
//   OIDC_CLIENTS          JSON: the registered clients (redirect_uris point at the test's server)
//   OIDC_ACCOUNTS_FILE    JSON: {"<sub>": {email, email_verified, name, groups}}, read again at
//                         every sign-in, so a test can take someone out of a group between two
// Its real login page (devInteractions): any password, the login is the account's sub.
import { readFileSync } from 'node:fs';

import Provider from 'oidc-provider';

const host = process.env.OIDC_HOST || '127.0.0.2';
const port = Number(process.env.OIDC_PORT);
const issuer = `http://${host}:${port}`;

function accounts() {
  return JSON.parse(readFileSync(process.env.OIDC_ACCOUNTS_FILE, 'utf8'));
}

const provider = new Provider(issuer, {
  clients: JSON.parse(process.env.OIDC_CLIENTS),
  async findAccount(ctx, id) {
    const account = accounts()[id];
    if (!account) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...accounts()[id] }; } };
  },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'groups'],
  },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  pkce: { required: () => true },
  cookies: { keys: ['guestgate-test-provider'] },
});
provider.proxy = false;

provider.listen(port, host, () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
