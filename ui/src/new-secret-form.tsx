import { useState } from 'preact/hooks';
import { ApiError, type Secret } from './coffer-api.js';
import { ErrorNotice } from './notices.js';
import { type MetadataDraft, MetadataFields, metadataWrite } from './secret-form-fields.js';
import { useSession } from './session-context.js';

const EMPTY: MetadataDraft = { description: '', scopes: '', notBefore: '', expiresOn: '' };

export function NewSecretForm({
  storeId,
  onCreated,
  onCancel,
}: {
  storeId: string;
  onCreated: (secret: Secret) => void;
  onCancel: () => void;
}) {
  const { api, fail } = useSession();
  const [name, setName] = useState('');
  const [value, setValue] = useState('');
  const [draft, setDraft] = useState<MetadataDraft>(EMPTY);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const write = metadataWrite(draft);
      const secret = await api.putSecret(
        storeId,
        name.trim(),
        {
          ...(value === '' ? {} : { value }),
          ...(write.description === null ? {} : { description: write.description }),
          ...(write.scopes.length === 0 ? {} : { scopes: write.scopes }),
          ...(write.notBefore === null ? {} : { notBefore: write.notBefore }),
          ...(write.expiresOn === null ? {} : { expiresOn: write.expiresOn }),
        },
        true,
      );
      onCreated(secret);
    } catch (e) {
      setError(
        e instanceof ApiError && e.status === 412
          ? `A secret named ${name.trim()} already exists in this store: open it to change it.`
          : fail(e),
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={submit} class="stack" aria-label="New secret">
      <div class="field">
        <label for="new-secret-name">Name</label>
        <input
          id="new-secret-name"
          value={name}
          onInput={(e) => setName(e.currentTarget.value)}
          required
          maxLength={127}
          pattern="[A-Za-z0-9_\-]+"
          aria-describedby="new-secret-name-help"
          autoComplete="off"
          spellcheck={false}
        />
        <span id="new-secret-name-help" class="help">
          1-127 of A-Z, a-z, 0-9, <code>-</code> and <code>_</code>; case-sensitive.
        </span>
      </div>
      <div class="field">
        <label for="new-secret-value">Value</label>
        <textarea
          id="new-secret-value"
          class="secret-input"
          value={value}
          rows={3}
          onInput={(e) => setValue(e.currentTarget.value)}
          autoComplete="off"
          spellcheck={false}
          aria-describedby="new-secret-value-help"
        />
        <span id="new-secret-value-help" class="help">
          Sealed as version 1. May be left empty and set later.
        </span>
      </div>
      <MetadataFields idPrefix="new-secret" draft={draft} onChange={setDraft} />
      <ErrorNotice message={error} />
      <div class="actions">
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Creating…' : 'Create secret'}
        </button>
        <button type="button" onClick={onCancel} disabled={busy}>
          Cancel
        </button>
      </div>
    </form>
  );
}
