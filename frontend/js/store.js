// IndexedDB for the few things that must survive a restart of the app or the phone: the refresh
// token (a shift-long sign-in), the outbox, and the officer's own reports. No police data from the
// API is cached anywhere else.
//
// This file is deliberately a plain script without import/export, so that the page loads it as a
// module (`import "./store.js"`) and the service worker loads the very same code with importScripts():
// one schema, one upgrade path. It publishes `globalThis.parleyStore`.
(function () {
  const DB_NAME = "parley";
  const DB_VERSION = 1;
  let opening = null;

  function open() {
    if (opening) return opening;
    opening = new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, DB_VERSION);
      request.onupgradeneeded = () => {
        const db = request.result;
        if (!db.objectStoreNames.contains("kv")) db.createObjectStore("kv");
        if (!db.objectStoreNames.contains("outbox")) {
          db.createObjectStore("outbox", { keyPath: "client_id" }).createIndex("seq", "seq");
        }
        if (!db.objectStoreNames.contains("reports")) db.createObjectStore("reports", { keyPath: "client_id" });
      };
      request.onsuccess = () => {
        const db = request.result;
        // another tab upgrading the schema: let it, and reopen on next use
        db.onversionchange = () => { db.close(); opening = null; };
        resolve(db);
      };
      request.onerror = () => { opening = null; reject(request.error); };
    });
    return opening;
  }

  async function run(storeName, mode, action) {
    const db = await open();
    return new Promise((resolve, reject) => {
      const tx = db.transaction(storeName, mode);
      const store = tx.objectStore(storeName);
      let result;
      const request = action(store);
      if (request) request.onsuccess = () => { result = request.result; };
      tx.oncomplete = () => resolve(result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error || new Error("IndexedDB transaction aborted"));
    });
  }

  globalThis.parleyStore = {
    get: (store, key) => run(store, "readonly", (s) => s.get(key)),
    put: (store, value, key) => run(store, "readwrite", (s) => (key === undefined ? s.put(value) : s.put(value, key))),
    delete: (store, key) => run(store, "readwrite", (s) => s.delete(key)),
    clear: (store) => run(store, "readwrite", (s) => s.clear()),
    all: (store) => run(store, "readonly", (s) => (store === "outbox" ? s.index("seq").getAll() : s.getAll())),
  };
})();
