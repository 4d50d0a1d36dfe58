// An explanation for people new to the subject, shown while "Explanations" is on (the ui slice's
// showNotes): every card's notes use it, so the toggle hides them all at once.

import type { ReactNode } from 'react';
import { useApp } from '../store/store.ts';

export function Note({ children }: { children: ReactNode }) {
  const show = useApp((s) => s.showNotes);
  return show ? <p className="note">{children}</p> : null;
}
