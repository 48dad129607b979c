// Google's Functions Framework, CloudEvent signature: the same echo as ours (answers the event's data).
/* global require */
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS on purpose: see above */
'use strict';
const functions = require('@google-cloud/functions-framework');

functions.cloudEvent('echo', (event) => event.data);
