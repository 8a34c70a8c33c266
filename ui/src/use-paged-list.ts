import { useCallback, useEffect, useState } from 'preact/hooks';

export interface PageOf<T> {
  readonly items: readonly T[];
  readonly nextCursor: string | null;
}

export interface PagedList<T> {
  readonly items: readonly T[] | null;
  readonly loading: boolean;
  readonly error: unknown;
  readonly page: number;
  readonly hasPrevious: boolean;
  readonly hasNext: boolean;
  next(): void;
  previous(): void;
  /** Loads the current page again (after a create or delete). */
  reload(): void;
}

/**
 * A cursor-paged list. Coffer's cursors only go forward, so the cursors of the pages seen are kept
 * as a stack to go back. `key` names the query (search, filters): when it changes, back to page 1.
 */
export function usePagedList<T>(
  fetchPage: (cursor: string | undefined) => Promise<PageOf<T>>,
  key: string,
): PagedList<T> {
  // The stack belongs to one key: a new search starts from the first page, never from a cursor of
  // the old one (Coffer refuses a cursor with another prefix).
  const [paging, setPaging] = useState<{ key: string; stack: readonly (string | undefined)[] }>({
    key,
    stack: [undefined],
  });
  const cursors = paging.key === key ? paging.stack : [undefined];
  const [generation, setGeneration] = useState(0);
  const [state, setState] = useState<{
    items: readonly T[] | null;
    nextCursor: string | null;
    loading: boolean;
    error: unknown;
  }>({ items: null, nextCursor: null, loading: true, error: null });

  const cursor = cursors[cursors.length - 1];
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true, error: null }));
    fetchPage(cursor).then(
      (page) => {
        if (live) setState({ items: page.items, nextCursor: page.nextCursor, loading: false, error: null });
      },
      (error: unknown) => {
        if (live) setState((s) => ({ ...s, loading: false, error }));
      },
    );
    return () => {
      live = false;
    };
    // fetchPage is recreated on each render; the key and cursor say when the answer changes.
  }, [key, cursor, generation]);

  const next = useCallback(() => {
    const c = state.nextCursor;
    if (c !== null) setPaging({ key, stack: [...cursors, c] });
  }, [state.nextCursor, key, cursors]);
  const previous = useCallback(() => {
    if (cursors.length > 1) setPaging({ key, stack: cursors.slice(0, -1) });
  }, [key, cursors]);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);

  return {
    items: state.items,
    loading: state.loading,
    error: state.error,
    page: cursors.length,
    hasPrevious: cursors.length > 1,
    hasNext: state.nextCursor !== null,
    next,
    previous,
    reload,
  };
}
