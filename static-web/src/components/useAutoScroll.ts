import { useCallback, useLayoutEffect, useRef, useState, type RefObject } from "react";

/** Within this distance of the bottom counts as "at the bottom" (rounding, sub-pixel layout). */
const BOTTOM_SLACK_PX = 48;

/**
 * Keeps a scroll container pinned to the bottom while content grows, until the user scrolls up;
 * then it stays put and `pinned` is false (the "Jump to latest" button shows).
 * Scrolling is instant on purpose: a smooth scroll emits intermediate positions that look like
 * the user scrolling up.
 */
export function useAutoScroll(ref: RefObject<HTMLElement | null>, contentKey: unknown, resetKey: unknown, sentKey?: unknown) {
  const pinnedRef = useRef(true);
  const [pinned, setPinned] = useState(true);

  const onScroll = useCallback(() => {
    const el = ref.current;
    if (!el) return;
    const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight <= BOTTOM_SLACK_PX;
    if (atBottom !== pinnedRef.current) {
      pinnedRef.current = atBottom;
      setPinned(atBottom);
    }
  }, [ref]);

  const jumpToLatest = useCallback(() => {
    const el = ref.current;
    if (!el) return;
    pinnedRef.current = true;
    setPinned(true);
    el.scrollTop = el.scrollHeight;
  }, [ref]);

  // Another conversation: start at its latest message.
  useLayoutEffect(() => {
    jumpToLatest();
  }, [resetKey, jumpToLatest]);

  // The user sent (or edited) a question: pin again, so the question and its reply come into view.
  const lastSent = useRef(sentKey);
  useLayoutEffect(() => {
    if (lastSent.current === sentKey) return;
    lastSent.current = sentKey;
    if (sentKey !== undefined) jumpToLatest();
  }, [sentKey, jumpToLatest]);

  // New content: follow it if pinned. Runs in the same commit as the text (see the frame batcher).
  useLayoutEffect(() => {
    const el = ref.current;
    if (el && pinnedRef.current) el.scrollTop = el.scrollHeight;
  }, [contentKey, ref]);

  return { pinned, onScroll, jumpToLatest };
}
