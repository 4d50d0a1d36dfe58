// Browser entry point: starts the controller (URL → store, the engine worker, the model list)
// once, outside React, then mounts the app into index.html's #root.

import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.tsx';
import { Controller } from './controller.ts';
import { appStore } from './store/store.ts';
import './styles.css';

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');

const controller = new Controller(appStore());
controller.start();

createRoot(root).render(
  <StrictMode>
    <App controller={controller} />
  </StrictMode>,
);
