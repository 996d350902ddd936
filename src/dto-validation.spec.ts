import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ValidationPipe } from '@nestjs/common';
import { getMetadataStorage } from 'class-validator';
import { validationPipe } from './bootstrap';
import { DomainError } from './common/domain-error';
import { CreateHouseholdBody } from './households/household.dto';

type Constructor = new () => object;

/** Every class exported by a src/**\/*.dto.ts file. */
async function dtoClasses(): Promise<Constructor[]> {
  const root = __dirname;
  const files = readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) =>
    f.endsWith('.dto.ts'),
  );
  const modules = await Promise.all(
    files.map((file) => import(join(root, file)) as Promise<Record<string, unknown>>),
  );
  return modules.flatMap((exports) =>
    Object.values(exports).filter(
      (v): v is Constructor => typeof v === 'function' && /^class\s/.test(v.toString()),
    ),
  );
}

describe('list validators', () => {
  it('finds the DTOs', async () => {
    expect((await dtoClasses()).map((c) => c.name)).toEqual(
      expect.arrayContaining(['CreateHouseholdBody', 'BulkRegistrationDto', 'CheckInDto']),
    );
  });

  // the property: every validated list in every DTO also checks the kind of each item, so a
  // nested array or a scalar where an object belongs never reaches a service
  it('every list property of every DTO checks each item', async () => {
    const storage = getMetadataStorage();
    const unchecked: string[] = [];
    for (const dto of await dtoClasses()) {
      const metadata = storage.getTargetValidationMetadatas(dto, '', true, false);
      const lists = new Set(
        metadata.filter((m) => m.name === 'isArray').map((m) => m.propertyName),
      );
      for (const property of lists) {
        const itemCheck = metadata.some(
          (m) => m.propertyName === property && m.each === true && m.type === 'customValidation',
        );
        if (!itemCheck) unchecked.push(`${dto.name}.${property}`);
      }
    }
    expect(unchecked).toEqual([]);
  });

  it('refuses a nested array or a scalar where a member belongs, with VALIDATION_FAILED', async () => {
    const sut: ValidationPipe = validationPipe();
    const member = { firstName: 'Ana', lastName: 'Lopez', dateOfBirth: '1984-03-09' };
    for (const item of [[], [[]], [member], 1, 'x', null]) {
      await expect(
        sut.transform({ members: [member, item] }, { type: 'body', metatype: CreateHouseholdBody }),
      ).rejects.toMatchObject({ code: 'VALIDATION_FAILED' } satisfies Partial<DomainError>);
    }
    await expect(
      sut.transform({ members: [member] }, { type: 'body', metatype: CreateHouseholdBody }),
    ).resolves.toBeInstanceOf(CreateHouseholdBody);
  });
});
