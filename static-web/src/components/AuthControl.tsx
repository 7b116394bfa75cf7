import { useState } from "react";
import type { AuthSession } from "../api/msalSession";

/** Sign in / signed-in name + Sign out, in the header. Both buttons leave for the sign-in page. */
export function AuthControl({ session }: { session: AuthSession }) {
  const [busy, setBusy] = useState(false);
  const act = (action: () => Promise<void>) => {
    setBusy(true);
    action().catch(() => setBusy(false));
  };
  if (!session.account) {
    return (
      <div className="auth">
        <button type="button" className="action primary auth-button" onClick={() => act(() => session.signIn())} disabled={busy}>
          Sign in
        </button>
      </div>
    );
  }
  return (
    <div className="auth">
      <span className="auth-name" title={session.account.username}>
        <span className="visually-hidden">Signed in as </span>
        {session.account.name}
      </span>
      <button type="button" className="action auth-button" onClick={() => act(() => session.signOut())} disabled={busy}>
        Sign out
      </button>
    </div>
  );
}
