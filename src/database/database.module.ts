import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { PRIVATE_DB, PUBLIC_DB } from './database.constants';
import { privateDataSourceOptions, publicDataSourceOptions } from './data-source-options';

@Global()
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      name: PUBLIC_DB,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        ...publicDataSourceOptions(config.publicDb, config.publicPoolSize),
        name: PUBLIC_DB,
        retryAttempts: 0,
      }),
    }),
    TypeOrmModule.forRootAsync({
      name: PRIVATE_DB,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        ...privateDataSourceOptions(config.privateDb, config.privatePoolSize),
        name: PRIVATE_DB,
        retryAttempts: 0,
      }),
    }),
  ],
})
export class DatabaseModule {}
