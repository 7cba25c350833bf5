// An OpenID Connect provider for dli-admin's single sign-on tests: one confidential client, and the users
// of a JSON file (read at every login, so a test changes a user's groups by rewriting it). Loopback only.
//
// Environment: IDP_PORT (0: any free port), IDP_CLIENT_ID, IDP_CLIENT_SECRET, IDP_REDIRECT_URI,
// IDP_USERS (path of {"alice": {"email": ..., "groups": [...]}, ...}). Prints "listening <issuer>" when up.
// Its login page is oidc-provider's development one: the login name picks the user (no password check).
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const env = (name) => {
  const value = process.env[name];
  if (!value) {
    console.error(`test IdP: ${name} is not set`);
    process.exit(2);
  }
  return value;
};

const clientId = env('IDP_CLIENT_ID');
const clientSecret = env('IDP_CLIENT_SECRET');
const redirectUri = env('IDP_REDIRECT_URI');
const usersFile = env('IDP_USERS');

const server = createServer();
server.listen(Number(process.env.IDP_PORT || 0), '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://localhost:${port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['preferred_username', 'name'],
      groups: ['groups'],
    },
    scopes: ['openid', 'email', 'profile', 'groups'],
    pkce: { required: () => true },
    async findAccount(ctx, id) {
      const users = JSON.parse(readFileSync(usersFile, 'utf8'));
      const user = users[id];
      if (!user) return undefined;
      return {
        accountId: id,
        async claims() {
          return {
            sub: user.sub || id,
            email: user.email,
            email_verified: true,
            preferred_username: id,
            name: user.name || id,
            groups: user.groups || [],
          };
        },
      };
    },
  });
  provider.on('server_error', (ctx, error) => console.error('test IdP error:', error));
  server.on('request', provider.callback());
  console.log(`listening ${issuer}`);
});
