import { useEffect, useRef, useState } from 'preact/hooks';
import type { Secret } from './coffer-api.js';
import { ConfirmDialog } from './confirm-dialog.js';
import { CopyButton } from './copy-button.js';
import { ErrorNotice } from './notices.js';
import { type MetadataDraft, MetadataFields, metadataWrite } from './secret-form-fields.js';
import { VALIDITY_LABEL, validityOf } from './secret-validity.js';
import { useSession } from './session-context.js';
import { formatInstant, toLocalInput } from './time-format.js';

interface Props {
  readonly storeId: string;
  readonly secret: Secret;
  readonly onChanged: (secret: Secret, words: string) => void;
  readonly onDeleted: (name: string) => void;
  readonly onClose: () => void;
}

function draftOf(secret: Secret): MetadataDraft {
  return {
    description: secret.description ?? '',
    scopes: secret.scopes.join(', '),
    notBefore: toLocalInput(secret.notBefore),
    expiresOn: toLocalInput(secret.expiresOn),
  };
}

/**
 * One secret: its value (hidden until asked for), its metadata and validity window, a new value,
 * and deletion. The value is fetched only on "Reveal" (Coffer audits it) and is kept only in this
 * component's state: hidden again, or on leaving, it is dropped.
 */
export function SecretDetails({ storeId, secret, onChanged, onDeleted, onClose }: Props) {
  const { api, fail } = useSession();
  const headingRef = useRef<HTMLHeadingElement>(null);
  const [revealed, setRevealed] = useState<string | null>(null);
  const [revealing, setRevealing] = useState(false);
  const [draft, setDraft] = useState<MetadataDraft>(() => draftOf(secret));
  const [newValue, setNewValue] = useState('');
  const [busy, setBusy] = useState<'' | 'meta' | 'value' | 'delete'>('');
  const [error, setError] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);

  useEffect(() => headingRef.current?.focus(), []);

  const validity = validityOf(secret);
  const canReveal = validity === 'valid';

  const reveal = async () => {
    setRevealing(true);
    setError(null);
    try {
      const answer = await api.revealSecret(storeId, secret.name);
      setRevealed(answer.value ?? '');
    } catch (e) {
      setError(fail(e));
    } finally {
      setRevealing(false);
    }
  };

  const saveMetadata = async (event: Event) => {
    event.preventDefault();
    setBusy('meta');
    setError(null);
    try {
      const updated = await api.putSecret(storeId, secret.name, metadataWrite(draft));
      setRevealed(null);
      onChanged(updated, `Secret ${secret.name}: details saved.`);
    } catch (e) {
      setError(fail(e));
    } finally {
      setBusy('');
    }
  };

  const setValue = async (event: Event) => {
    event.preventDefault();
    setBusy('value');
    setError(null);
    try {
      const updated = await api.putSecret(storeId, secret.name, { value: newValue });
      setNewValue('');
      setRevealed(null);
      onChanged(updated, `Secret ${secret.name}: new value saved as version ${updated.version ?? '?'}.`);
    } catch (e) {
      setError(fail(e));
    } finally {
      setBusy('');
    }
  };

  const remove = async () => {
    setBusy('delete');
    setError(null);
    try {
      await api.deleteSecret(storeId, secret.name);
      setConfirming(false);
      onDeleted(secret.name);
    } catch (e) {
      setConfirming(false);
      setError(fail(e));
      setBusy('');
    }
  };

  return (
    <section id="secret-details" class="card details" aria-labelledby="secret-details-title">
      <div class="details-head">
        <h2 id="secret-details-title" ref={headingRef} tabIndex={-1}>
          Secret {secret.name}
        </h2>
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
      <dl class="facts">
        <dt>Status</dt>
        <dd>
          <span class={`badge badge-${validity}`}>{VALIDITY_LABEL[validity]}</span>
        </dd>
        <dt>Version</dt>
        <dd>{secret.version ?? 'none yet'}</dd>
        <dt>Created</dt>
        <dd>{formatInstant(secret.createdAt)}</dd>
        <dt>Updated</dt>
        <dd>{formatInstant(secret.updatedAt)}</dd>
      </dl>
      <ErrorNotice message={error} />

      <h3>Value</h3>
      {revealed === null ? (
        <div class="value-row">
          <span class="value-hidden" aria-label="Value hidden">
            ••••••••
          </span>
          <button type="button" onClick={() => void reveal()} disabled={!canReveal || revealing}>
            {revealing ? 'Revealing…' : 'Reveal'}
          </button>
          <span class="help">
            {canReveal
              ? 'Revealing is recorded in the audit trail.'
              : validity === 'no-value'
                ? 'This secret has no value yet.'
                : `The value cannot be read now: ${VALIDITY_LABEL[validity].toLowerCase()}.`}
          </span>
        </div>
      ) : (
        <div class="value-row">
          <code class="value-shown" data-testid="revealed-value">
            {revealed}
          </code>
          <CopyButton text={revealed} label="Copy value" />
          <button type="button" onClick={() => setRevealed(null)}>
            Hide
          </button>
        </div>
      )}

      <h3>Set a new value</h3>
      <form onSubmit={setValue} class="inline-form">
        <div class="field grow">
          <label for="secret-new-value">New value</label>
          <textarea
            id="secret-new-value"
            class="secret-input"
            rows={2}
            value={newValue}
            onInput={(e) => setNewValue(e.currentTarget.value)}
            required
            autoComplete="off"
            spellcheck={false}
          />
        </div>
        <button type="submit" disabled={busy !== ''}>
          {busy === 'value' ? 'Saving…' : 'Save new value'}
        </button>
      </form>

      <h3>Details and validity window</h3>
      <form onSubmit={saveMetadata} class="stack">
        <MetadataFields idPrefix="secret-edit" draft={draft} onChange={setDraft} />
        <div class="actions">
          <button type="submit" class="primary" disabled={busy !== ''}>
            {busy === 'meta' ? 'Saving…' : 'Save details'}
          </button>
        </div>
      </form>

      <h3>Delete</h3>
      <p>
        <button type="button" class="danger" onClick={() => setConfirming(true)} disabled={busy !== ''}>
          Delete secret {secret.name}
        </button>
      </p>
      <ConfirmDialog
        open={confirming}
        title={`Delete secret ${secret.name}?`}
        confirmLabel="Delete secret"
        busy={busy === 'delete'}
        onConfirm={() => void remove()}
        onCancel={() => setConfirming(false)}
      >
        <p>Its value and every version are destroyed. This cannot be undone.</p>
      </ConfirmDialog>
    </section>
  );
}
