import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { loadRuntimeConfig } from "./api/config";
import type { AuthSession } from "./api/msalSession";
import { shareIdFrom } from "./api/shares";
import { injectedSession } from "./api/testSession";
import { App } from "./components/App";
import { SharedView } from "./components/SharedView";
import "./styles.css";

// The API base URL and sign-in settings come from /config.json at run time (written at deploy), never from the bundle.
async function start() {
  const { apiBaseUrl, auth } = await loadRuntimeConfig();
  // A shared link (/?share=<id>) is read by anyone, signed in or not: no sign-in starts for it.
  const shareId = shareIdFrom(window.location.search);
  if (shareId !== null) {
    createRoot(document.getElementById("root")!).render(
      <StrictMode>
        <SharedView apiBaseUrl={apiBaseUrl} shareId={shareId} />
      </StrictMode>,
    );
    return;
  }
  let session: AuthSession | null = null;
  if (auth) {
    // MSAL is downloaded only by deployments that sign in. The browser tests inject their own
    // signed-in session instead (testSession.ts says why that weakens nothing).
    try {
      session = injectedSession(window);
      if (!session) {
        const { createAuthSession } = await import("./api/msalSession");
        session = await createAuthSession(auth);
      }
    } catch {
      // Sign-in could not start (offline, blocked storage): show Sign in, which tries again.
      session = {
        account: null,
        signIn: async () => window.location.reload(),
        signOut: async () => {},
        getToken: async () => Promise.reject(new Error("Not signed in.")),
      };
    }
  }
  createRoot(document.getElementById("root")!).render(
    <StrictMode>
      <App apiBaseUrl={apiBaseUrl} auth={session} />
    </StrictMode>,
  );
}

void start();
