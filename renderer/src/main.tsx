import { createRoot } from 'react-dom/client';

function App() {
  return (
    <main>
      <h1>Outpost</h1>
      <p>The window arrives with the desktop shell; today Outpost runs headless: <code>outpost worker --help</code>.</p>
    </main>
  );
}

createRoot(document.getElementById('root')!).render(<App />);
