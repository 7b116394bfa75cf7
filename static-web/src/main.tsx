import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { loadRuntimeConfig } from "./api/config";
import { App } from "./components/App";
import "./styles.css";

// The API base URL comes from /config.json at run time (written at deploy), never from the bundle.
loadRuntimeConfig().then(({ apiBaseUrl }) => {
  createRoot(document.getElementById("root")!).render(
    <StrictMode>
      <App apiBaseUrl={apiBaseUrl} />
    </StrictMode>,
  );
});
