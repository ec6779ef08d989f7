// The demo page at /app/: signs in and hands <coaching-sessions> a way to get a token.
//
// On the local stack (`make run`), /app/?as=demo-member or ?as=demo-coach signs in as that demo
// user through GET /_local/token, a local-only route that is never deployed; the picker shows
// only where that stack answers. Anywhere else the page asks for a token to paste, which it
// keeps in memory only.

const element = document.querySelector("coaching-sessions");
const who = document.getElementById("who");
const picker = document.getElementById("picker");
const signIn = document.getElementById("sign-in");

async function demoToken(sub) {
  try {
    const response = await fetch(`/_local/token?as=${encodeURIComponent(sub)}`, {
      cache: "no-store",
    });
    return response.ok ? await response.json() : null;
  } catch {
    return null;
  }
}

async function onLocalStack() {
  try {
    return (await fetch("/_local/health", { cache: "no-store" })).ok;
  } catch {
    return false;
  }
}

function signedIn(name, role) {
  who.textContent = `Signed in as ${name} (${role}).`;
}

const as = new URLSearchParams(location.search).get("as");
const local = await onLocalStack();
picker.hidden = !local;

if (as && local) {
  let current = await demoToken(as);
  if (current) {
    let renewAt = Date.now() + (current.expires_in - 60) * 1000;
    element.setAttribute("viewer", current.role === "coach" ? "coach" : "member");
    signedIn(current.name, current.role);
    element.getToken = async () => {
      if (Date.now() > renewAt) {
        current = await demoToken(as);
        renewAt = Date.now() + (current.expires_in - 60) * 1000;
      }
      return current.token;
    };
  } else {
    who.textContent = `There is no demo user "${as}": pick one above.`;
  }
} else if (local) {
  who.textContent = "Pick a demo user above to sign in.";
} else {
  signIn.hidden = false;
  signIn.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(signIn);
    const token = String(data.get("token")).trim();
    element.setAttribute("viewer", data.get("viewer") === "coach" ? "coach" : "member");
    element.getToken = async () => token;
    signIn.hidden = true;
    who.textContent = "Signed in with the token you pasted.";
  });
}
