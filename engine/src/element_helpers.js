// How Spool names an element: its ARIA role and accessible name, as the action recorder
// writes them into selectors and fingerprints and as action replay reads them back. Both
// scripts include this file so they agree.
  const TEST_ATTRS = ['data-testid', 'data-test', 'data-qa', 'data-cy'];
  const IMPLICIT_ROLES = { A: 'link', BUTTON: 'button', SELECT: 'combobox', TEXTAREA: 'textbox',
    H1: 'heading', H2: 'heading', H3: 'heading', IMG: 'img', FORM: 'form', NAV: 'navigation' };
  const roleOf = (el) => {
    const explicit = el.getAttribute('role');
    if (explicit) return explicit;
    if (el.tagName === 'INPUT') {
      const t = (el.getAttribute('type') || 'text').toLowerCase();
      if (t === 'checkbox') return 'checkbox';
      if (t === 'radio') return 'radio';
      if (t === 'submit' || t === 'button' || t === 'reset') return 'button';
      if (t === 'hidden' || t === 'password') return null;
      return 'textbox';
    }
    return IMPLICIT_ROLES[el.tagName] || null;
  };
  const clean = (s) => (s || '').replace(/\s+/g, ' ').trim().slice(0, 80);
  const nameOf = (el) => {
    const aria = el.getAttribute('aria-label');
    if (aria) return clean(aria);
    if (el.labels && el.labels.length) {
      const label = el.labels[0].cloneNode(true);
      label.querySelectorAll('input,select,textarea').forEach((c) => c.remove());
      const text = clean(label.textContent);
      if (text) return text;
    }
    if (el.getAttribute('alt')) return clean(el.getAttribute('alt'));
    if (el.tagName === 'INPUT' && /^(submit|button|reset)$/i.test(el.type)) return clean(el.value);
    if (el.getAttribute('title')) return clean(el.getAttribute('title'));
    if (/^(INPUT|SELECT|TEXTAREA)$/.test(el.tagName)) return el.getAttribute('placeholder') ? clean(el.getAttribute('placeholder')) : null;
    return clean(el.textContent) || null;
  };
