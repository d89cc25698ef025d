/**
 * A staff member's browser, as far as the API is concerned: keeps the session cookie it is given and
 * sends the CSRF token with state changes, like the console page does.
 */
export function createStaffClient(baseUrl: string) {
  let cookie: string | undefined;
  let csrfToken: string | undefined;

  async function request(path: string, options: { method?: string; body?: unknown; csrf?: string | null; headers?: Record<string, string> } = {}) {
    const method = options.method ?? (options.body === undefined ? 'GET' : 'POST');
    const headers: Record<string, string> = { ...options.headers };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (cookie) headers.cookie = cookie;
    const csrf = options.csrf === undefined ? csrfToken : options.csrf;
    if (method !== 'GET' && csrf) headers['x-csrf-token'] = csrf;
    const response = await fetch(`${baseUrl}${path}`, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
    const setCookie = response.headers.get('set-cookie');
    if (setCookie) {
      const [pair] = setCookie.split(';');
      cookie = pair!.endsWith('=') ? undefined : pair;
    }
    const text = await response.text();
    let json: any;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: response.status, headers: response.headers, json, text, setCookie };
  }

  return {
    request,
    /** POST /login, read the code with `readCode`, POST /verify: signed in, with the session's CSRF token kept. */
    async signIn(phone: string, readCode: () => Promise<string>) {
      const login = await request('/staff/api/login', { body: { phone } });
      if (login.status !== 202) throw new Error(`login answered ${login.status}: ${login.text}`);
      const code = await readCode();
      const verify = await request('/staff/api/verify', { body: { phone, code } });
      if (verify.status !== 200) throw new Error(`verify answered ${verify.status}: ${verify.text}`);
      csrfToken = verify.json.csrfToken;
      return verify;
    },
    get cookie() {
      return cookie;
    },
    set cookie(value: string | undefined) {
      cookie = value;
    },
    get csrfToken() {
      return csrfToken;
    },
  };
}

/** The six-digit code in a sign-in message. */
export function codeIn(body: string): string {
  const match = /\b(\d{6})\b/.exec(body);
  if (!match) throw new Error(`no sign-in code in ${JSON.stringify(body)}`);
  return match[1]!;
}
