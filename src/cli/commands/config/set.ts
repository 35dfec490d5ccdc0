import { Option } from 'clipanion';
import { formatSetting, parseSetting, resolveKey, withSetting } from '../../../lifecycle/config.ts';
import { QueueCommand } from '../base.ts';

export class ConfigSetCommand extends QueueCommand {
  static override paths = [['config', 'set']];
  static override usage = QueueCommand.Usage({
    category: 'Configuration',
    description: 'change one setting in config.json',
    details: `
      \`max-retries\` is copied onto each job when it is enqueued, so a change applies to jobs
      enqueued afterwards. \`backoff-base\` is read when a job fails, so it applies at once.
      Keys accept both spellings: \`max-retries\` and \`max_retries\`.
    `,
    examples: [
      ['Give new jobs five runs', '$0 config set max-retries 5'],
      ['Wait 3 s, 9 s, 27 s … between retries', '$0 config set backoff-base 3'],
    ],
  });

  key = Option.String();
  value = Option.String();

  async run() {
    const key = resolveKey(this.key);
    const value = parseSetting(key, this.value, 'config set');
    await this.store.updateConfig((config) => ({ config: withSetting(config, key, value), result: undefined }));
    const override = this.context.env[`QUEUECTL_${key.toUpperCase()}`];
    this.out(`${key.replace(/_/g, '-')} = ${formatSetting(value)}`);
    if (override) this.context.stderr.write(`queuectl: note: QUEUECTL_${key.toUpperCase()}=${override} overrides this setting in the current environment\n`);
  }
}
