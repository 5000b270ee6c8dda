import { h, mount, field } from "../dom.js";

export const title = "Sign in";

export default async function render(ctx) {
  const message = sessionStorage.getItem("parley-signin-message");
  sessionStorage.removeItem("parley-signin-message");
  const number = h("input", { name: "service_number", autocomplete: "username", required: true, autocapitalize: "characters",
    spellcheck: false, enterKeyHint: "next" });
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true,
    enterKeyHint: "go" });
  const status = h("p", { class: "error-text", role: "alert", hidden: !message }, message || "");
  const submit = h("button", { class: "button button-block", type: "submit" }, "Sign in");
  const form = h("form", { class: "card", onsubmit: async (event) => {
    event.preventDefault();
    submit.disabled = true;
    submit.textContent = "Signing in…";
    status.hidden = true;
    try {
      await ctx.api.signIn(number.value.trim(), password.value);
      password.value = "";
      await ctx.startSession();
      ctx.navigate("");
    } catch (error) {
      status.textContent = error instanceof ctx.api.NetworkError
        ? "No signal. Sign-in needs the network; try again when you have a connection."
        : error.message;
      status.hidden = false;
      password.select();
    } finally {
      submit.disabled = false;
      submit.textContent = "Sign in";
    }
  } },
  h("h1", {}, "Sign in"),
  status,
  field("Service number", number),
  field("Password", password),
  submit,
  h("p", { class: "hint" }, "You stay signed in on this phone for your shift. Sign out from the menu when you hand it over."));
  mount(ctx.main, h("section", { class: "sign-in" },
    h("p", { class: "brand-big" }, "Parley"),
    h("p", { class: "muted" }, "Approved replies, rumour reports and messages from command."),
    form));
  number.focus();
}
