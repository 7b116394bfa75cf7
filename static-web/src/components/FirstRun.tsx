/** Questions a first-time user can send with one click. */
export const STARTER_PROMPTS = [
  "Explain server-sent events in two sentences",
  "Write a Python function that reverses the words in a sentence",
  "Give me three tips for writing clear emails",
  "Plan a 20-minute full-body workout",
];

/** The empty chat: what this is, which model answers, and starter prompts (clicking one sends it). */
export function FirstRun({ modelName, onPrompt, disabled }: { modelName?: string; onPrompt: (text: string) => void; disabled: boolean }) {
  return (
    <div className="empty">
      <h2>How can I help?</h2>
      <p className="model-name" data-testid="model-name">
        {modelName ? (
          <>
            Answers come from <strong>{modelName}</strong>.
          </>
        ) : (
          "Replies stream in as they are written."
        )}{" "}
        Your chats stay in this browser.
      </p>
      <ul className="starters" aria-label="Starter prompts">
        {STARTER_PROMPTS.map((prompt) => (
          <li key={prompt}>
            <button type="button" className="starter" onClick={() => onPrompt(prompt)} disabled={disabled}>
              {prompt}
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}
