// tests/e2e/passkey_browser.mjs — drives Debian's chromium (headless, puppeteer-core, nothing
// downloaded) through one `agentkeys --passkey browser` page with a DevTools virtual
// authenticator (ctap2, internal, resident keys, user verification).
//
//   node passkey_browser.mjs --url URL --state FILE [--uv 0] [--shot PNG] [--expect done|error|gone]
//                            [--no-webauthn] [--tamper origin|type|challenge|reorder|uv|rpidhash]
//                            [--timeout-ms N]
//
// --state FILE is one authenticator: the credentials it holds (private keys included; test
// data only) are loaded into a fresh virtual authenticator before the page runs and saved back
// after it (sign counts advance), so one FILE = one passkey device across ceremonies.
// Prints one line "STATE <done|error|gone> <the page's status text>" and exits 0 when the page
// ended in the --expect state (default done), 1 otherwise, 2 on a driver failure.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const flag = (name) => args.includes(name);
const url = opt('--url');
const stateFile = opt('--state');
const expect = opt('--expect', 'done');
const timeoutMs = Number(opt('--timeout-ms', '60000'));
if (!url || !stateFile) {
  console.error('usage: passkey_browser.mjs --url URL --state FILE [--uv 0] [--shot PNG] [--expect STATE]');
  process.exit(2);
}

const profile = mkdtempSync(join(tmpdir(), 'ak-chromium-'));
let browser;
let code = 2;
try {
  browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    userDataDir: profile,
    protocolTimeout: timeoutMs,
    timeout: timeoutMs,
    args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
  });
  if (flag('--version')) console.log('BROWSER ' + (await browser.version()));
  const page = await browser.newPage();
  await page.setViewport({ width: 900, height: 820 });
  if (flag('--no-webauthn')) {
    await page.evaluateOnNewDocument(() => {
      delete window.PublicKeyCredential;
    });
  }
  const tamper = opt('--tamper');
  if (tamper) {
    // changes the page's result on its way back to agentkeys, to prove the CLI's own checks
    await page.evaluateOnNewDocument((mode) => {
      const dec = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
      const enc = (b) => btoa(String.fromCharCode(...b)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
      const real = window.fetch.bind(window);
      window.fetch = (url, init) => {
        const o = JSON.parse(init.body);
        if (o.clientDataJSON) {
          const cd = JSON.parse(new TextDecoder().decode(dec(o.clientDataJSON)));
          if (mode === 'origin') cd.origin = 'http://localhost:1';
          if (mode === 'type') cd.type = 'webauthn.create';
          if (mode === 'challenge') cd.challenge = 'A'.repeat(43);
          if (mode === 'reorder') { /* same members, reverse order: parses, but the signature covers the bytes */
            const r = {}; for (const k of Object.keys(cd).reverse()) r[k] = cd[k]; o.clientDataJSON = enc(new TextEncoder().encode(JSON.stringify(r)));
          } else if (['origin', 'type', 'challenge'].includes(mode)) {
            o.clientDataJSON = enc(new TextEncoder().encode(JSON.stringify(cd)));
          }
        }
        if (o.authenticatorData && (mode === 'uv' || mode === 'rpidhash')) {
          const ad = dec(o.authenticatorData);
          if (mode === 'uv') ad[32] &= ~0x04;
          else ad[0] ^= 0x01;
          o.authenticatorData = enc(ad);
        }
        init.body = JSON.stringify(o);
        return real(url, init);
      };
    }, tamper);
  }
  const cdp = await page.createCDPSession();
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true,
      isUserVerified: opt('--uv', '1') !== '0', automaticPresenceSimulation: true,
    },
  });
  const saved = existsSync(stateFile) ? JSON.parse(readFileSync(stateFile, 'utf8')) : [];
  for (const credential of saved) await cdp.send('WebAuthn.addCredential', { authenticatorId, credential });

  const resp = await page.goto(url, { waitUntil: 'load', timeout: timeoutMs });
  let state;
  if (!resp || resp.status() !== 200) {
    state = 'gone';
  } else {
    await page.waitForSelector('#go', { timeout: timeoutMs });
    const shot = opt('--shot');
    if (shot) await page.screenshot({ path: shot, fullPage: true });
    const ready = await page.$eval('body', (b) => b.dataset.state);
    if (ready === 'ready') await page.click('#go');
    await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset.state),
      { timeout: timeoutMs, polling: 100 });
    state = await page.$eval('body', (b) => b.dataset.state);
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    writeFileSync(stateFile, JSON.stringify(credentials), { mode: 0o600 });
  }
  const text = await page.$eval('#status', (e) => e.textContent).catch(() => '');
  console.log(`STATE ${state} ${text.replace(/\s+/g, ' ').trim()}`);
  code = state === expect ? 0 : 1;
} catch (e) {
  console.log(`DRIVER_ERROR ${e && e.message ? e.message : e}`);
  code = 2;
} finally {
  if (browser) await browser.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}
process.exit(code);
