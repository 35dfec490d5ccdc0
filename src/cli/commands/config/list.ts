import { Option } from 'clipanion';
import { envVariable, formatSetting, SETTING_KEYS, SETTINGS, type SettingKey, type SettingSource } from '../../../lifecycle/config.ts';
import { renderTable } from '../../table.ts';
import { QueueCommand } from '../base.ts';

export class ConfigListCommand extends QueueCommand {
  static override paths = [['config', 'list']];
  static override usage = QueueCommand.Usage({
    category: 'Configuration',
    description: 'list every setting with its value, where the value comes from, and what it means',
    details: `
      SOURCE says where each value comes from: \`default\`, the store's \`config.json\` (\`database\` on PostgreSQL), or the
      environment variable that overrides it (\`QUEUECTL_MAX_RETRIES\` and so on). With
      \`--json\`, one object: each key maps to its \`value\` and its \`source\` (\`default\`,
      \`file\` or \`environment\`).
    `,
    examples: [
      ['List the settings', '$0 config list'],
      ['As one JSON object', '$0 config list --json'],
    ],
  });

  asJson = Option.Boolean('--json', false, { description: 'print one JSON object' });

  async run() {
    const { config, sources } = (await this.store.readConfigSources());
    if (this.asJson) return this.json(Object.fromEntries(SETTING_KEYS.map((key) => [key, { value: config[key], source: sources[key] }])));
    const shown = (key: SettingKey, source: SettingSource) => (source === 'environment' ? envVariable(key) : source === 'file' ? this.store.settingsLabel : 'default');
    const rows = SETTING_KEYS.map((key) => [key.replace(/_/g, '-'), formatSetting(config[key]), shown(key, sources[key]), SETTINGS[key].description]);
    this.context.stdout.write(renderTable(['KEY', 'VALUE', 'SOURCE', 'MEANING'], rows));
  }
}
