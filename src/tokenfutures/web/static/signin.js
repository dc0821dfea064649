// Signing in with an API key and secret, or creating a sandbox key; the session line.

import { ApiError, currentCredentials } from "./api.js";
import { h, fill } from "./dom.js";
import { grouped } from "./format.js";
import { createSandboxKey, signIn, signOut, state } from "./session.js";

// The exchange's refusals of a key at sign-in (GET /v1/whoami), by the field they blame.
const WRONG_FIELD = { unknown_key: ["key"], bad_signature: ["secret"], missing_header: ["key", "secret"],
  insufficient_scope: ["key"] };

// The sign-in form (when signed out) or the account line with "Sign out" (when signed in).
// Signing in or out changes the session; the views listen to its "change" event.
export function signInPanel() {
  const box = h("div", { class: "signin", id: "signin-box" });
  let created = null; // the sandbox account just made: its key and secret are shown once
  render();
  return { element: box, render };

  function render() {
    const found = currentCredentials();
    if (found) {
      fill(box, h("div", { class: "session-line" },
        h("span", {}, "Signed in as ",
          h("b", { id: "account-name", text: state.name || found.account || "…" }),
          state.scopes.length ? ` · scopes ${state.scopes.join(", ")}` : "",
          h("span", { class: "muted", text: ` · key ${found.key}` })),
        h("button", { type: "button", class: "quiet", id: "sign-out",
          onclick: () => { created = null; signOut(); }, text: "Sign out" })),
      created && created.key === found.key ? createdNote(created) : null);
      return;
    }
    const error = h("p", { class: "field-error", id: "signin-error", role: "alert" });
    const key = h("input", { name: "key", id: "signin-key", placeholder: "tfk_…", autocomplete: "off",
      spellcheck: "false" });
    const secret = h("input", { name: "secret", id: "signin-secret", type: "password",
      autocomplete: "off", placeholder: "secret" });
    const submit = async (event) => {
      event.preventDefault();
      error.textContent = "";
      for (const input of [key, secret]) input.classList.remove("invalid");
      try {
        await signIn(key.value, secret.value);
      } catch (refused) {
        error.textContent = refused instanceof ApiError
          ? `${refused.detail} (${refused.reason})` : String(refused);
        const wrong = WRONG_FIELD[refused.reason] || [];
        for (const input of wrong.map((name) => (name === "key" ? key : secret))) {
          input.classList.add("invalid");
        }
      }
    };
    const sandbox = async () => {
      error.textContent = "";
      try {
        created = await createSandboxKey();
        render();
      } catch (refused) {
        error.textContent = refused instanceof ApiError && refused.status === 404
          ? "This exchange has no sandbox: ask for an API key."
          : `Could not create a sandbox key: ${refused.detail || refused}`;
      }
    };
    fill(box,
      h("form", { class: "signin-form", id: "signin", novalidate: true, onsubmit: submit },
        h("label", {}, "API key", key),
        h("label", {}, "Secret", secret),
        h("button", { type: "submit", class: "primary", text: "Sign in" }),
        h("span", { class: "muted", text: "or" }),
        h("button", { type: "button", id: "create-sandbox", onclick: sandbox, text: "Create sandbox key" })),
      error,
      h("p", { class: "muted small", text: "The key and secret stay in this browser tab (session " +
        "storage) and are forgotten when it closes; requests are signed here, the secret is never sent." }));
  }
}

function createdNote(made) {
  return h("div", { class: "note ok", id: "sandbox-created" },
    `Sandbox account ${made.account} opened with USD ${grouped(made.balance)}. `,
    h("details", {}, h("summary", { text: "Show the key and secret (shown this once)" }),
      h("code", { text: `key ${made.key}` }), h("br"), h("code", { text: `secret ${made.secret}` })));
}
