"""panva's oidc-provider (npm, OpenID Certified) on loopback for the single sign-on tests: its
config is tests/oidc/provider.js, its pinned version tests/oidc/package-lock.json. Installed with
`npm ci --prefix tests/oidc` (make test and .ci/run do it; so does `installed()` when missing).
Without Node the tests skip, saying why (a failure in CI, where every test must run)."""

import json
import os
import re
import shutil
import subprocess
import time
from html import unescape
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests
from helpers import free_port

HERE = Path(__file__).resolve().parent / "oidc"
HOST = "127.0.0.2"  # another host than the app's 127.0.0.1: each keeps its own cookies
CLIENT_ID, CLIENT_SECRET = "guestgate", "guestgate-test-secret"
OTHER_ID, OTHER_SECRET = "another-app", "another-app-secret"


def installed() -> None:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are needed for the OpenID provider: apt-get install -y "
                    "nodejs npm (CI installs them)")
    if not (HERE / "node_modules" / "oidc-provider").is_dir():
        subprocess.run(["npm", "ci", "--prefix", str(HERE), "--no-audit", "--no-fund"],
                       check=True, capture_output=True, timeout=300)


class OidcProvider:
    """One provider; `start(base_url)` registers Guestgate's client (and another app's) with
    that server's callback. Accounts live in a file the provider reads at every sign-in."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.issuer = f"http://{HOST}:{self.port}"
        self.accounts_file = folder / "accounts.json"
        self.proc = None
        self.accounts = {}
        self.save_accounts()

    def settings(self, **extra) -> dict:
        """The Guestgate configuration that points at this provider."""
        return {"OIDC_ISSUER": self.issuer, "OIDC_CLIENT_ID": CLIENT_ID,
                "OIDC_CLIENT_SECRET": CLIENT_SECRET, "OIDC_NAME": "Sign in with Contoso",
                **extra}

    def add(self, sub: str, email: str, groups=(), verified=True, name=None) -> None:
        self.accounts[sub] = {"email": email, "email_verified": verified,
                              "name": name or sub.capitalize(), "groups": list(groups)}
        self.save_accounts()

    def save_accounts(self) -> None:
        tmp = self.accounts_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.accounts))
        tmp.replace(self.accounts_file)

    def start(self, base_url: str) -> "OidcProvider":
        installed()
        self.base_url = base_url
        clients = [{"client_id": cid, "client_secret": secret,
                    "redirect_uris": [f"{base_url}/sign-in/sso/callback"],
                    "post_logout_redirect_uris": [f"{base_url}/sign-in"]}
                   for cid, secret in ((CLIENT_ID, CLIENT_SECRET), (OTHER_ID, OTHER_SECRET))]
        env = {**os.environ, "OIDC_HOST": HOST, "OIDC_PORT": str(self.port),
               "OIDC_CLIENTS": json.dumps(clients),
               "OIDC_ACCOUNTS_FILE": str(self.accounts_file)}
        self.log = (self.folder / "provider.log").open("ab")
        self.proc = subprocess.Popen(["node", str(HERE / "provider.js")], env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while True:
            try:
                if requests.get(self.issuer + "/.well-known/openid-configuration",
                                timeout=1).ok:
                    return self
            except requests.RequestException:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the OpenID provider didn't start: "
                                   + (self.folder / "provider.log").read_text())
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(5)
            self.proc = None
            self.log.close()

    # --- a person at the provider's login page, over HTTP -------------------------------------

    def log_in(self, authorize_url: str, login: str) -> str:
        """Follow the provider's pages from the authorization URL: its login form (the sub, any
        password), then its consent; returns the URL it sends the browser back to."""
        browser = requests.Session()
        response = browser.get(authorize_url, allow_redirects=False, timeout=5)
        for _ in range(12):
            if response.is_redirect:
                target = urljoin(response.url, response.headers["Location"])
                if not target.startswith(self.issuer):
                    return target
                response = browser.get(target, allow_redirects=False, timeout=5)
                continue
            page = response.text
            action = re.search(r'<form[^>]*action="([^"]+)"', page)
            prompt = re.search(r'name="prompt" value="([^"]+)"', page)
            assert action and prompt, f"unexpected provider page: {page[:500]}"
            data = {"prompt": prompt.group(1)}
            if prompt.group(1) == "login":
                data.update(login=login, password="any")
            response = browser.post(urljoin(response.url, unescape(action.group(1))),
                                    data=data, allow_redirects=False, timeout=5)
        raise AssertionError("the provider never sent the browser back")
