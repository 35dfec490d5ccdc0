import { Option } from 'clipanion';
import { formatSetting, SETTING_KEYS, SETTINGS } from '../../config.ts';
import { readConfig } from '../../store.ts';
import { renderTable } from '../../table.ts';
import { QueueCommand } from '../base.ts';

export class ConfigListCommand extends QueueCommand {
  static override paths = [['config', 'list'], ['config']];
  static override usage = QueueCommand.Usage({
    category: 'Configuration',
    description: 'list every setting with its value and what it means',
    examples: [
      ['List the settings', '$0 config list'],
      ['As one JSON object', '$0 config list --json'],
    ],
  });

  asJson = Option.Boolean('--json', false, { description: 'print one JSON object' });

  async run() {
    const config = readConfig(this.store);
    if (this.asJson) return this.json(config);
    const rows = SETTING_KEYS.map((key) => [key.replace(/_/g, '-'), formatSetting(config[key]), SETTINGS[key].description]);
    this.context.stdout.write(renderTable(['KEY', 'VALUE', 'MEANING'], rows));
  }
}
