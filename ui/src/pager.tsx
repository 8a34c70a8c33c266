interface Props {
  readonly label: string;
  readonly page: number;
  readonly hasPrevious: boolean;
  readonly hasNext: boolean;
  readonly previousLabel?: string;
  readonly nextLabel?: string;
  readonly onPrevious: () => void;
  readonly onNext: () => void;
}

/** Previous/next over cursor pages (Coffer's lists page by opaque cursors, not numbers). */
export function Pager({
  label,
  page,
  hasPrevious,
  hasNext,
  previousLabel = 'Previous page',
  nextLabel = 'Next page',
  onPrevious,
  onNext,
}: Props) {
  if (!hasPrevious && !hasNext) return null;
  return (
    <nav class="pager" aria-label={label}>
      <button type="button" onClick={onPrevious} disabled={!hasPrevious}>
        {previousLabel}
      </button>
      <span class="pager-page">Page {page}</span>
      <button type="button" onClick={onNext} disabled={!hasNext}>
        {nextLabel}
      </button>
    </nav>
  );
}
