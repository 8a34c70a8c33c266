import { useState } from 'preact/hooks';

/** The "Name starts with" search above a list: the prefix applies when the form is submitted. */
export function PrefixSearch(props: { id: string; onSearch: (prefix: string) => void }) {
  const [search, setSearch] = useState('');
  return (
    <form
      role="search"
      class="inline-form"
      onSubmit={(e) => {
        e.preventDefault();
        props.onSearch(search.trim());
      }}
    >
      <div class="field">
        <label for={props.id}>Name starts with</label>
        <input
          id={props.id}
          type="search"
          value={search}
          onInput={(e) => setSearch(e.currentTarget.value)}
          autoComplete="off"
        />
      </div>
      <button type="submit">Search</button>
    </form>
  );
}
